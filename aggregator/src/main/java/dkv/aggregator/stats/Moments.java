package dkv.aggregator.stats;

/** Mean and sample standard deviation of an array, summed in two passes for accuracy. */
public final class Moments {
    private Moments() {}

    public static double mean(double[] x) {
        double sum = 0;
        for (double v : x) {
            sum += v;
        }
        double mean = sum / x.length;
        // second pass removes the rounding error of the first (as NumPy's pairwise sum would)
        double correction = 0;
        for (double v : x) {
            correction += v - mean;
        }
        return mean + correction / x.length;
    }

    /** Sample standard deviation (n − 1 denominator); NaN below two values. */
    public static double sd(double[] x, double mean) {
        if (x.length < 2) {
            return Double.NaN;
        }
        double ss = 0;
        double s = 0;
        for (double v : x) {
            double d = v - mean;
            ss += d * d;
            s += d;
        }
        // corrected two-pass algorithm (Chan, Golub & LeVeque)
        return Math.sqrt((ss - s * s / x.length) / (x.length - 1));
    }
}
