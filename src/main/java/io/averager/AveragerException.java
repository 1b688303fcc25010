package io.averager;

/**
 * The one unchecked exception type of averager. Messages say what went wrong, for which run, step
 * and tensor where they exist, and what was expected.
 */
public class AveragerException extends RuntimeException {

    public AveragerException(String message) {
        super(message);
    }

    public AveragerException(String message, Throwable cause) {
        super(message, cause);
    }
}
