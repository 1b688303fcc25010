package io.averager.store;

import io.averager.kernel.DistanceSums;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * Value of one run in the distances store: how far each profile's EMA was from the raw weights
 * over the last {@value #MAX_POINTS} snapshots averaged whole, and the sums of the snapshot being
 * applied. Layout (big-endian): version byte; profile count and names (int length + UTF-8); the
 * pending step (-1: none) and its two sums a profile; the point count, then per point its step,
 * commit time, checkpoint flag byte and one relative distance a profile.
 *
 * <p>The profiles are the service's; a stored value written under other profiles is read by
 * name, with NaN for a profile it lacks. Not thread-safe.
 */
public final class DistanceHistory {

    /** The points kept per run; older ones are dropped. */
    public static final int MAX_POINTS = 256;
    private static final byte VERSION = 1;

    /**
     * One snapshot's distances.
     *
     * @param relative {@code ||ema - x|| / ||x||} per profile, in the history's profile order
     * @param checkpoint whether the snapshot was checkpointed
     */
    public record Point(long step, long time, boolean checkpoint, double[] relative) {
    }

    private final List<String> profiles;
    private final DistanceSums[] pending;
    private final Deque<Point> points;
    private long pendingStep;

    private DistanceHistory(List<String> profiles, long pendingStep, DistanceSums[] pending, Deque<Point> points) {
        this.profiles = List.copyOf(profiles);
        this.pendingStep = pendingStep;
        this.pending = pending;
        this.points = points;
    }

    /** The history stored as {@code stored} (null: an empty one), read for {@code profiles}. */
    public static DistanceHistory decode(byte[] stored, List<String> profiles) {
        DistanceSums[] pending = new DistanceSums[profiles.size()];
        Arrays.setAll(pending, i -> new DistanceSums());
        if (stored == null) {
            return new DistanceHistory(profiles, -1, pending, new ArrayDeque<>());
        }
        ByteBuffer b = ByteBuffer.wrap(stored);
        if (b.get() != VERSION) {
            throw new IllegalStateException("Distance history of unknown layout (version " + stored[0] + ")");
        }
        int[] index = new int[b.getInt()];
        for (int i = 0; i < index.length; i++) {
            byte[] name = new byte[b.getInt()];
            b.get(name);
            index[i] = profiles.indexOf(new String(name, StandardCharsets.UTF_8));
        }
        long pendingStep = b.getLong();
        for (int i = 0; i < index.length; i++) {
            DistanceSums sums = new DistanceSums(b.getDouble(), b.getDouble());
            if (index[i] >= 0) {
                pending[index[i]] = sums;
            }
        }
        Deque<Point> points = new ArrayDeque<>();
        for (int n = b.getInt(); n > 0; n--) {
            long step = b.getLong();
            long time = b.getLong();
            boolean checkpoint = b.get() != 0;
            double[] relative = new double[profiles.size()];
            Arrays.fill(relative, Double.NaN);
            for (int i = 0; i < index.length; i++) {
                double v = b.getDouble();
                if (index[i] >= 0) {
                    relative[index[i]] = v;
                }
            }
            points.add(new Point(step, time, checkpoint, relative));
        }
        return new DistanceHistory(profiles, pendingStep, pending, points);
    }

    /** The bytes to store. */
    public byte[] encode() {
        List<byte[]> names = profiles.stream().map(p -> p.getBytes(StandardCharsets.UTF_8)).toList();
        int size = 1 + 4 + names.stream().mapToInt(n -> 4 + n.length).sum() + 8 + 16 * profiles.size()
                + 4 + points.size() * (17 + 8 * profiles.size());
        ByteBuffer b = ByteBuffer.allocate(size).put(VERSION).putInt(names.size());
        names.forEach(n -> b.putInt(n.length).put(n));
        b.putLong(pendingStep);
        for (DistanceSums s : pending) {
            b.putDouble(s.differenceSquares()).putDouble(s.rawSquares());
        }
        b.putInt(points.size());
        for (Point p : points) {
            b.putLong(p.step()).putLong(p.time()).put((byte) (p.checkpoint() ? 1 : 0));
            for (double v : p.relative()) {
                b.putDouble(v);
            }
        }
        return b.array();
    }

    /**
     * The sums of {@code profile} for the snapshot of {@code step}, to add a chunk to; the sums of
     * any other step still pending are dropped first.
     */
    public DistanceSums sums(long step, String profile) {
        if (step != pendingStep) {
            Arrays.setAll(pending, i -> new DistanceSums());
            pendingStep = step;
        }
        int i = profiles.indexOf(profile);
        if (i < 0) {
            throw new IllegalArgumentException("Profile " + profile + " is not one of " + profiles);
        }
        return pending[i];
    }

    /**
     * Ends the snapshot of {@code step}, averaged whole: its distances become a point. Does
     * nothing if no chunk of that step was summed.
     */
    public void complete(long step, long time, boolean checkpoint) {
        if (step != pendingStep) {
            return;
        }
        double[] relative = Arrays.stream(pending).mapToDouble(DistanceSums::relative).toArray();
        points.addLast(new Point(step, time, checkpoint, relative));
        while (points.size() > MAX_POINTS) {
            points.removeFirst();
        }
        discardPending();
    }

    /** Drops the sums of the snapshot being applied: it will not be averaged whole. */
    public void discardPending() {
        pendingStep = -1;
        Arrays.setAll(pending, i -> new DistanceSums());
    }

    /** The profiles, in the order of each point's distances. */
    public List<String> profiles() {
        return profiles;
    }

    /** The points, oldest first. */
    public List<Point> points() {
        return new ArrayList<>(points);
    }
}
