/**
 * averager's own meters, per run and profile, on Micrometer's global registry, where the
 * operations endpoint's Prometheus registry reads them. Recorded by the topology and the sink;
 * no Kafka, no I/O.
 */
package io.averager.metrics;
