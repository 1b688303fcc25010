/**
 * Configuration: one documented {@link org.apache.kafka.common.config.ConfigDef} for the
 * {@code averager.*} keys, one for the per-profile keys, and the pass-through of every other key
 * to Kafka Streams and the Kafka clients. The reference table of docs/configuration.md is
 * generated from these.
 */
package io.averager.config;
