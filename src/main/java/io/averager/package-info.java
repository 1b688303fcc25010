/**
 * averager keeps exponential moving averages (EMA) of neural-network weights published to Kafka
 * by training runs, and emits EMA checkpoints to Kafka and object storage.
 *
 * <p>Packages, from the pure core outwards: {@code ema} (arithmetic and decay schedules),
 * {@code kernel} (where the arithmetic runs), {@code wire} (Avro records), {@code format}
 * (checkpoint files), {@code store} (state stores), {@code topology} (the Kafka Streams
 * processors), {@code sink} (checkpoint files to object storage), {@code publish} (the library
 * training code calls), {@code config}, {@code embedded} (the in-JVM broker), {@code service}
 * (wiring it all together), {@code demo} and {@code cli}.
 */
package io.averager;
