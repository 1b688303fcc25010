/**
 * The demo: an embedded broker, the service, and a small model trained by noisy SGD that
 * publishes its weights, to show EMA weights beating the raw ones.
 */
package io.averager.demo;
