/**
 * The wire format: Avro records (generated into {@code io.averager.wire.avro} from
 * {@code src/main/avro}) encoded with Avro's single-object encoding, and the codec that tells
 * them apart by schema fingerprint without a registry.
 */
package io.averager.wire;
