package io.averager.wire;

import io.averager.AveragerException;

/** A message that cannot be decoded: not single-object Avro, unknown schema, or a broken body. */
public final class WireException extends AveragerException {

    public WireException(String message) {
        super(message);
    }

    public WireException(String message, Throwable cause) {
        super(message, cause);
    }
}
