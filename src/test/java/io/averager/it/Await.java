package io.averager.it;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Waiting in the tests: polls a condition or a value until it holds, fails with an
 * {@link AssertionError} naming what was awaited, the last value seen and, if given, what else
 * helps (a log's end, a service's state) once the timeout has passed. A check of what the wait
 * depends on ({@link #whileAlive}) runs every turn, so that a dead service fails the wait at once
 * instead of at its end. What a probe throws ends the wait and propagates.
 *
 * <p>{@code Await.until("the topology to run", timeout, () -> log().contains(RUNNING))} for the
 * common case; {@link #waitingFor} for a wait with a liveness check, another poll interval or more
 * to say on failure. Not thread-safe: one wait at a time per instance.
 */
final class Await {

    /** How often a condition is polled unless told otherwise. */
    static final Duration POLL = Duration.ofMillis(100);

    /** A condition, which may throw (an HTTP call, a file read). */
    @FunctionalInterface
    interface Condition<E extends Exception> {
        boolean holds() throws E;
    }

    /** A value read each turn, which may throw. */
    @FunctionalInterface
    interface Probe<T, E extends Exception> {
        T read() throws E;
    }

    private final String what;
    private final Duration timeout;
    private Runnable alive = () -> { };
    private Duration every = POLL;
    private Supplier<String> detail = () -> "";

    private Await(String what, Duration timeout) {
        this.what = Objects.requireNonNull(what);
        this.timeout = Objects.requireNonNull(timeout);
    }

    /** A wait for {@code what} (said on failure: "the service to run"), of at most {@code timeout}. */
    static Await waitingFor(String what, Duration timeout) {
        return new Await(what, timeout);
    }

    /** Waits until {@code done} holds; fails after {@code timeout}. */
    static <E extends Exception> void until(String what, Duration timeout, Condition<E> done)
            throws E, InterruptedException {
        waitingFor(what, timeout).until(done);
    }

    /** Reads {@code probe} until its value satisfies {@code done}, and returns that value; fails after {@code timeout}. */
    static <T, E extends Exception> T until(String what, Duration timeout, Probe<T, E> probe, Predicate<? super T> done)
            throws E, InterruptedException {
        return waitingFor(what, timeout).until(probe, done);
    }

    /** Reads {@code probe} until it gives a value, and returns it; fails after {@code timeout}. */
    static <T, E extends Exception> T present(String what, Duration timeout, Probe<Optional<T>, E> probe)
            throws E, InterruptedException {
        return waitingFor(what, timeout).present(probe);
    }

    /** Runs {@code check} every turn; it throws (an AssertionError, say) when waiting on is pointless. */
    Await whileAlive(Runnable check) {
        this.alive = Objects.requireNonNull(check);
        return this;
    }

    /** Polls every {@code interval} instead of every {@link #POLL}; zero when the probe itself blocks (a consumer's poll). */
    Await every(Duration interval) {
        this.every = Objects.requireNonNull(interval);
        return this;
    }

    /** What the failure message adds, read when the wait fails. */
    Await detail(Supplier<String> more) {
        this.detail = Objects.requireNonNull(more);
        return this;
    }

    /** Waits until {@code done} holds. */
    <E extends Exception> void until(Condition<E> done) throws E, InterruptedException {
        if (!within(done)) {
            throw failure(null, false);
        }
    }

    /** Reads {@code probe} until its value satisfies {@code done}; returns that value. */
    <T, E extends Exception> T until(Probe<T, E> probe, Predicate<? super T> done) throws E, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            T value = probe.read();
            if (done.test(value)) {
                return value;
            }
            if (!pause(deadline)) {
                throw failure(value, true);
            }
        }
    }

    /** Reads {@code probe} until it gives a value; returns it. */
    <T, E extends Exception> T present(Probe<Optional<T>, E> probe) throws E, InterruptedException {
        return until(probe, Optional::isPresent).orElseThrow();
    }

    /**
     * Waits until {@code done} holds, as {@link #until(Condition)}, but answers false instead of
     * failing when the timeout passes: for a wait whose end is no failure ("if the sink begins a
     * file within a second, kill it then").
     */
    <E extends Exception> boolean within(Condition<E> done) throws E, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.holds()) {
            if (!pause(deadline)) {
                return false;
            }
        }
        return true;
    }

    /** Checks liveness, then sleeps until the next turn; false when the deadline has passed. */
    private boolean pause(long deadline) throws InterruptedException {
        alive.run();
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            return false;
        }
        if (!every.isZero()) {
            TimeUnit.NANOSECONDS.sleep(Math.min(left, every.toNanos()));
        }
        return true;
    }

    private AssertionError failure(Object last, boolean withValue) {
        String more = detail.get();
        return new AssertionError("Waited " + timeout + " for " + what + (withValue ? "; last seen: " + last : "")
                + (more.isEmpty() ? "" : "; " + more));
    }
}
