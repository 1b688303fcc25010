package io.averager.sink;

/**
 * Exponential backoff for retrying a failed operation: 1 s after the first failure, doubling up
 * to one minute. Not thread-safe.
 */
final class Backoff {

    static final long FIRST_MS = 1_000;
    static final long MAX_MS = 60_000;

    private int attempts;
    private long dueAt;

    /** Whether the next attempt may run now. */
    boolean due() {
        return System.currentTimeMillis() >= dueAt;
    }

    /** Records a failure; returns the delay before the next attempt. */
    long failed() {
        attempts++;
        long delay = Math.min(MAX_MS, FIRST_MS << Math.min(attempts - 1, 16));
        dueAt = System.currentTimeMillis() + delay;
        return delay;
    }

    /** Failed attempts so far. */
    int attempts() {
        return attempts;
    }
}
