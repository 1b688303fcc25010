/**
 * The operations endpoint: Prometheus metrics (Micrometer, with Kafka Streams' and the JVM's
 * own metrics bridged) and liveness and readiness checks that reflect the Kafka Streams state.
 */
package io.averager.ops;
