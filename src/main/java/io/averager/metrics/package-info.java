/**
 * averager's own meters, per run and profile, and the sink's, on the registry of the service
 * instance that records them (each service has its own Prometheus registry, which its HTTP
 * endpoint serves). Recorded by the topology and the sink; no Kafka, no I/O.
 */
package io.averager.metrics;
