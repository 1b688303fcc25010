/**
 * averager's own meters, per run and profile, on the registry of the service instance that
 * records them (the operations endpoint serves that registry; nothing goes to Micrometer's global
 * one). Recorded by the topology and the sink; no Kafka, no I/O.
 */
package io.averager.metrics;
