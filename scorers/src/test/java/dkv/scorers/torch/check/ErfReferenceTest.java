package dkv.scorers.torch.check;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The double-precision erf that the gelu and erf op checks compare against, at known values (Python's math.erf), within 1e-15. */
class ErfReferenceTest {

    @Test
    void knownValues() {
        double[][] cases = {{0, 0}, {0.1, 0.1124629160182849}, {0.5, 0.5204998778130465}, {1, 0.8427007929497149},
                {-1.5, -0.9661051464753108}, {2, 0.9953222650189527}, {3.5, 0.9999992569016276}, {5.9, 0.9999999999999999},
                {7, 1}, {-30, -1}};
        for (double[] c : cases) assertEquals(c[1], OpChecks.erf(c[0]), 1e-15, "erf(" + c[0] + ")");
    }
}
