/**
 * The running service: creates its topics, runs the Kafka Streams topology and the checkpoint
 * sink, and stops them cleanly.
 */
package io.averager.service;
