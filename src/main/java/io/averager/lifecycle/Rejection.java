package io.averager.lifecycle;

/**
 * A record the lifecycle did not apply, or a snapshot it closed unfinished, to be dead-lettered.
 *
 * @param reason its category, for the meters
 * @param message what is wrong, naming the run, step and tensor: the {@code averager.error} header
 * @param carriesRecord the dead letter carries the record's value; false for a snapshot abandoned
 *     when a later record arrived, which is not that record's fault
 */
public record Rejection(DeadLetterReason reason, String message, boolean carriesRecord) {

    /** The record itself is rejected. */
    static Rejection of(DeadLetterReason reason, String message) {
        return new Rejection(reason, message, true);
    }
}
