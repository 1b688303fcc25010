/**
 * Benchmarks that print figures, each next to the limit it is measured against in the same run
 * on the same machine (a bare Kafka consumer on the same broker, say), as ratios.
 */
package io.averager.bench;
