package io.averager.topology;

import org.apache.avro.specific.SpecificRecordBase;

/**
 * A snapshot record that passed stateless validation: its decoded message, and the raw bytes to
 * dead-letter it with should a stateful check fail.
 */
record Inbound(byte[] rawKey, byte[] rawValue, SpecificRecordBase message) {
}
