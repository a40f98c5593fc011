package dkv.producers;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.SplittableRandom;

/**
 * Derives independent, reproducible random streams from the plan seed and names (sample id, condition,
 * purpose). Every random choice in a producer goes through here, so a result never depends on the order
 * in which samples are read or on which JVM runs the producer.
 */
public final class Seeds {
    private Seeds() {}

    /** A 64-bit value that depends on the seed and every part (SHA-256: stable across JVMs and releases). */
    public static long derive(long seed, String... parts) {
        MessageDigest sha = sha256();
        for (int i = 7; i >= 0; i--) {
            sha.update((byte) (seed >>> (8 * i)));
        }
        for (String part : parts) {
            byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
            sha.update((byte) (bytes.length >>> 24));
            sha.update((byte) (bytes.length >>> 16));
            sha.update((byte) (bytes.length >>> 8));
            sha.update((byte) bytes.length);
            sha.update(bytes);
        }
        byte[] digest = sha.digest();
        long value = 0;
        for (int i = 0; i < 8; i++) {
            value = (value << 8) | (digest[i] & 0xff);
        }
        return value;
    }

    /** The first 16 hex digits of the SHA-256 of {@code bytes}: a content hash for keys and requests. */
    public static String hex(byte[] bytes) {
        return java.util.HexFormat.of().formatHex(sha256().digest(bytes), 0, 8);
    }

    public static SplittableRandom random(long seed, String... parts) {
        return new SplittableRandom(derive(seed, parts));
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }
}
