package dkv.aggregator.stats;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.apache.commons.statistics.inference.TTest;
import org.junit.jupiter.api.Test;

/**
 * Continuous peeking: 1000 streams under the null, looked at after every observation. The confidence sequence's
 * always-valid p-value keeps the false-positive rate at α (within sampling error); a fixed-n t-test read at every
 * look does not.
 */
class ConfidenceSequenceCoverageTest {
    static final int STREAMS = 1000;
    static final int LENGTH = 500;
    static final double ALPHA = 0.05;
    /** α plus three binomial standard errors of a rate estimated from STREAMS streams. */
    static final double LIMIT = ALPHA + 3 * Math.sqrt(ALPHA * (1 - ALPHA) / STREAMS);

    record Rates(double sequence, double naive) {}

    static Rates peek(DoubleSupplier nullDraw, double nullMean) {
        ConfidenceSequence cs = new ConfidenceSequence(ALPHA, LENGTH);
        TTest naiveTest = TTest.withDefaults().withMu(nullMean);
        int sequenceRejections = 0;
        int naiveRejections = 0;
        for (int s = 0; s < STREAMS; s++) {
            AnytimeMonitor monitor = new AnytimeMonitor(cs, nullMean);
            boolean naiveRejected = false;
            for (int i = 0; i < LENGTH; i++) {
                monitor.add(nullDraw.getAsDouble());
                long n = monitor.n();
                if (!naiveRejected && n >= ConfidenceSequence.MIN_N && monitor.sd() > 0) {
                    double sd = monitor.sd();
                    naiveRejected = naiveTest.test(monitor.mean(), sd * sd, n).getPValue() < ALPHA;
                }
            }
            if (monitor.anytimePValue() < ALPHA) {
                sequenceRejections++;
            }
            if (naiveRejected) {
                naiveRejections++;
            }
        }
        Rates rates = new Rates((double) sequenceRejections / STREAMS, (double) naiveRejections / STREAMS);
        System.out.println("peeking at every n, " + STREAMS + " streams of " + LENGTH + ": " + rates);
        return rates;
    }

    @Test
    void normalNullKeepsErrorRateUnderPeeking() {
        SplittableRandom random = new SplittableRandom(7);
        Rates rates = peek(() -> gaussian(random), 0.0);
        assertTrue(rates.sequence() <= LIMIT, "sequence false-positive rate " + rates.sequence());
        assertTrue(rates.naive() > 0.2, "naive repeated t-tests should inflate errors, got " + rates.naive());
    }

    @Test
    void heavyTailedNullKeepsErrorRateUnderPeeking() {
        SplittableRandom random = new SplittableRandom(11);
        // Student t with 3 degrees of freedom: normal / sqrt(chi2_3 / 3)
        Rates rates = peek(() -> {
            double chi2 = 0;
            for (int k = 0; k < 3; k++) {
                double z = gaussian(random);
                chi2 += z * z;
            }
            return gaussian(random) / Math.sqrt(chi2 / 3);
        }, 0.0);
        assertTrue(rates.sequence() <= LIMIT, "sequence false-positive rate " + rates.sequence());
        assertTrue(rates.naive() > 0.2, "naive " + rates.naive());
    }

    @Test
    void winRateNullKeepsErrorRateUnderPeeking() {
        SplittableRandom random = new SplittableRandom(13);
        Rates rates = peek(() -> random.nextBoolean() ? 1.0 : 0.0, 0.5);
        assertTrue(rates.sequence() <= LIMIT, "win-rate sequence false-positive rate " + rates.sequence());
        assertTrue(rates.naive() > 0.2, "naive " + rates.naive());
    }

    @Test
    void detectsARealEffect() {
        SplittableRandom random = new SplittableRandom(17);
        Rates rates = peek(() -> 0.3 + gaussian(random), 0.0);
        assertTrue(rates.sequence() > 0.9, "power at effect 0.3 sd over 500 observations: " + rates.sequence());
    }

    static double gaussian(SplittableRandom random) {
        return random.nextGaussian();
    }
}
