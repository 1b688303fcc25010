/**
 * A single-node Kafka broker (KRaft, broker and controller in one) running inside the JVM from
 * Kafka's own jars: the embedded default and the broker the integration tests use.
 */
package io.averager.embedded;
