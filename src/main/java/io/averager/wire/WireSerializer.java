package io.averager.wire;

import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.serialization.Serializer;

/** Kafka serializer for averager records, in single-object encoding. Thread-safe. */
public final class WireSerializer implements Serializer<SpecificRecordBase> {

    @Override
    public byte[] serialize(String topic, SpecificRecordBase record) {
        return record == null ? null : WireCodec.encode(record);
    }
}
