package dkv.scorers.model;

import java.util.Arrays;

/**
 * The positions of a run of tokens (new tokens of a request, or the entries of a cache): one channel for ordinary
 * RoPE models, two for GLM's 2D RoPE (channel 1 the absolute position, channel 2 the block position, see
 * docs/architecture.md "Positions"). Immutable; arrays are copied in and out.
 */
public final class Positions {

    private static final Positions EMPTY = new Positions(new long[0], null);

    private final long[] first;
    private final long[] second;

    private Positions(long[] first, long[] second) {
        if (second != null && second.length != first.length) {
            throw new IllegalArgumentException("2D positions with " + first.length + " and " + second.length + " entries");
        }
        this.first = first;
        this.second = second;
    }

    public static Positions empty() {
        return EMPTY;
    }

    /** One channel. */
    public static Positions of(long... positions) {
        return new Positions(positions.clone(), null);
    }

    /** Two channels (GLM): {@code position} rotates the first half of each head, {@code block} the second. */
    public static Positions twoD(long[] position, long[] block) {
        return new Positions(position.clone(), block.clone());
    }

    /** {@code start, start + 1, …} in one channel. */
    public static Positions consecutive(long start, int count) {
        long[] p = new long[count];
        for (int i = 0; i < count; i++) p[i] = start + i;
        return new Positions(p, null);
    }

    public int size() {
        return first.length;
    }

    public boolean isTwoD() {
        return second != null;
    }

    /** Channel 1 (the only channel of 1D positions), a copy. */
    public long[] first() {
        return first.clone();
    }

    /** Channel 2 of 2D positions, a copy. */
    public long[] second() {
        if (second == null) throw new IllegalStateException("1D positions have no second channel");
        return second.clone();
    }

    /** Channel 1 of entry i. */
    public long first(int i) {
        return first[i];
    }

    /** Entries {@code [from, to)}. */
    public Positions slice(int from, int to) {
        return new Positions(Arrays.copyOfRange(first, from, to), second == null ? null : Arrays.copyOfRange(second, from, to));
    }

    /** These entries, then {@code other}'s. An empty side adopts the other's dimensionality. */
    public Positions concat(Positions other) {
        if (size() == 0) return other;
        if (other.size() == 0) return this;
        if (isTwoD() != other.isTwoD()) throw new IllegalArgumentException("cannot join 1D and 2D positions");
        return new Positions(join(first, other.first), second == null ? null : join(second, other.second));
    }

    /** Channel 1 moved by {@code delta} (truncation's re-rotation; channel 2 is untouched). */
    public Positions shiftFirst(long delta) {
        long[] moved = first.clone();
        for (int i = 0; i < moved.length; i++) moved[i] += delta;
        return new Positions(moved, second);
    }

    private static long[] join(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Positions p && Arrays.equals(first, p.first) && Arrays.equals(second, p.second);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(first) + Arrays.hashCode(second);
    }

    @Override
    public String toString() {
        return second == null ? Arrays.toString(first) : "2D" + Arrays.toString(first) + "/" + Arrays.toString(second);
    }
}
