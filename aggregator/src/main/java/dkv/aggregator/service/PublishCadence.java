package dkv.aggregator.service;

/**
 * When the aggregator publishes: after {@code everyRecords} accepted records or {@code everyMillis} since the last
 * publication, whichever comes first (only experiments that changed are published).
 */
public record PublishCadence(long everyRecords, long everyMillis) {
    public static final PublishCadence DEFAULT = new PublishCadence(50_000, 1_000);

    public PublishCadence {
        if (everyRecords < 1) {
            throw new IllegalArgumentException("publish cadence: every-records must be >= 1, got " + everyRecords);
        }
        if (everyMillis < 1) {
            throw new IllegalArgumentException("publish cadence: every-millis must be >= 1, got " + everyMillis);
        }
    }
}
