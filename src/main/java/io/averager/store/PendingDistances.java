package io.averager.store;

import io.averager.kernel.DistanceSums;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * The distance sums of the snapshot being applied to a run, one pair a profile, as kept in the
 * distances store while its chunks arrive (a few dozen bytes, rewritten with every chunk). Layout
 * (big-endian): version byte, step, profile count, then per profile its name (int length + UTF-8)
 * and its two sums. Read for the service's profiles: a profile the stored value lacks starts at
 * zero. Not thread-safe.
 */
public final class PendingDistances {

    private static final byte VERSION = 1;

    private final List<String> profiles;
    private final DistanceSums[] sums;
    private long step;

    private PendingDistances(List<String> profiles, long step, DistanceSums[] sums) {
        this.profiles = List.copyOf(profiles);
        this.step = step;
        this.sums = sums;
    }

    /** The key of a run's pending sums in the distances store. */
    public static String key(String run) {
        return "sums/" + run;
    }

    /** The sums stored as {@code stored} (null: none yet), for {@code profiles}. */
    public static PendingDistances decode(byte[] stored, List<String> profiles) {
        DistanceSums[] sums = new DistanceSums[profiles.size()];
        Arrays.setAll(sums, i -> new DistanceSums());
        if (stored == null) {
            return new PendingDistances(profiles, -1, sums);
        }
        ByteBuffer b = ByteBuffer.wrap(stored);
        if (b.get() != VERSION) {
            throw new IllegalStateException("Pending distances of unknown layout (version " + stored[0] + ")");
        }
        long step = b.getLong();
        for (int n = b.getInt(); n > 0; n--) {
            byte[] name = new byte[b.getInt()];
            b.get(name);
            DistanceSums s = new DistanceSums(b.getDouble(), b.getDouble());
            int i = profiles.indexOf(new String(name, StandardCharsets.UTF_8));
            if (i >= 0) {
                sums[i] = s;
            }
        }
        return new PendingDistances(profiles, step, sums);
    }

    /** The bytes to store. */
    public byte[] encode() {
        List<byte[]> names = profiles.stream().map(p -> p.getBytes(StandardCharsets.UTF_8)).toList();
        ByteBuffer b = ByteBuffer.allocate(1 + 8 + 4 + names.stream().mapToInt(n -> 4 + n.length + 16).sum());
        b.put(VERSION).putLong(step).putInt(names.size());
        for (int i = 0; i < names.size(); i++) {
            b.putInt(names.get(i).length).put(names.get(i)).putDouble(sums[i].differenceSquares())
                    .putDouble(sums[i].rawSquares());
        }
        return b.array();
    }

    /**
     * The sums of {@code profile} for the snapshot of {@code step}, to add a chunk to; sums of
     * another step (a snapshot that never closed) are dropped first.
     */
    public DistanceSums sums(long step, String profile) {
        if (step != this.step) {
            Arrays.setAll(sums, i -> new DistanceSums());
            this.step = step;
        }
        int i = profiles.indexOf(profile);
        if (i < 0) {
            throw new IllegalArgumentException("Profile " + profile + " is not one of " + profiles);
        }
        return sums[i];
    }

    /** The step summed, or -1 if none. */
    public long step() {
        return step;
    }

    /** {@code ||ema - x|| / ||x||} per profile, in the profiles' order. */
    public double[] relative() {
        return Arrays.stream(sums).mapToDouble(DistanceSums::relative).toArray();
    }
}
