package dkv.aggregator.stats;

/**
 * One stream watched live: Welford running moments, the confidence sequence at the current n, and the
 * always-valid p-value against {@code nullValue} kept as a running minimum over n — so a reader may stop at
 * any look. The values depend on arrival order only through that minimum.
 */
public final class AnytimeMonitor {
    private final ConfidenceSequence sequence;
    private final double nullValue;
    private long n;
    private double mean;
    private double m2;
    private double pMin = 1.0;

    public AnytimeMonitor(ConfidenceSequence sequence, double nullValue) {
        this.sequence = sequence;
        this.nullValue = nullValue;
    }

    public void add(double x) {
        n++;
        double d = x - mean;
        mean += d / n;
        m2 += d * (x - mean);
        if (n >= ConfidenceSequence.MIN_N) {
            pMin = Math.min(pMin, sequence.pValue(n, mean - nullValue, sd()));
        }
    }

    public long n() {
        return n;
    }

    public double mean() {
        return n == 0 ? Double.NaN : mean;
    }

    public double sd() {
        return n < 2 ? Double.NaN : Math.sqrt(m2 / (n - 1));
    }

    public double lower() {
        return mean() - sequence.halfWidth(n, sd());
    }

    public double upper() {
        return mean() + sequence.halfWidth(n, sd());
    }

    public double anytimePValue() {
        return pMin;
    }
}
