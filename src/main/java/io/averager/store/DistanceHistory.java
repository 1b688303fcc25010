package io.averager.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * How far each profile's EMA of one run was from the raw weights over the last
 * {@value #MAX_POINTS} snapshots averaged whole, as kept in the distances store (written once a
 * snapshot). Layout (big-endian): version byte; profile count and names (int length + UTF-8);
 * the point count, then per point its step, commit time, checkpoint flag byte and one relative
 * distance a profile.
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
    private final Deque<Point> points;

    private DistanceHistory(List<String> profiles, Deque<Point> points) {
        this.profiles = List.copyOf(profiles);
        this.points = points;
    }

    /** The key of a run's history in the distances store. */
    public static String key(String run) {
        return "points/" + run;
    }

    /** The history stored as {@code stored} (null: an empty one), read for {@code profiles}. */
    public static DistanceHistory decode(byte[] stored, List<String> profiles) {
        if (stored == null) {
            return new DistanceHistory(profiles, new ArrayDeque<>());
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
        return new DistanceHistory(profiles, points);
    }

    /** The bytes to store. */
    public byte[] encode() {
        List<byte[]> names = profiles.stream().map(p -> p.getBytes(StandardCharsets.UTF_8)).toList();
        int size = 1 + 4 + names.stream().mapToInt(n -> 4 + n.length).sum()
                + 4 + points.size() * (17 + 8 * profiles.size());
        ByteBuffer b = ByteBuffer.allocate(size).put(VERSION).putInt(names.size());
        names.forEach(n -> b.putInt(n.length).put(n));
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
     * Adds the point of a snapshot averaged whole, dropping the oldest beyond {@value #MAX_POINTS}.
     *
     * @param relative the distance per profile, in the history's profile order
     */
    public void add(long step, long time, boolean checkpoint, double[] relative) {
        if (relative.length != profiles.size()) {
            throw new IllegalArgumentException(relative.length + " distances for profiles " + profiles);
        }
        points.addLast(new Point(step, time, checkpoint, relative.clone()));
        while (points.size() > MAX_POINTS) {
            points.removeFirst();
        }
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
