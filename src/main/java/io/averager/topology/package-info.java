/**
 * The Kafka Streams topology: validate, then apply each chunk to the EMA state, then emit
 * checkpoint records, one processor per concern. The apply processor reads a run's state from
 * {@code store/}, asks {@code lifecycle/} what a record changes, writes that and forwards the
 * checkpoint events and dead letters. Also the topic specifications the service creates its
 * topics from.
 */
package io.averager.topology;
