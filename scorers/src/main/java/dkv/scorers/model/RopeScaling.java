package dkv.scorers.model;

/**
 * How a model stretches RoPE's inverse frequencies beyond its training context (HF {@code rope_type}).
 * Each variant reproduces the matching function of HF {@code modeling_rope_utils}, in float32 like HF.
 */
public sealed interface RopeScaling {

    /**
     * The scaling that one {@code rope_parameters} / {@code rope_scaling} object names by {@code rope_type} (or the
     * legacy {@code type}); {@code top} is the whole config, for fields some checkpoints keep at the top level.
     */
    static RopeScaling read(ConfigFields p, ConfigFields top) {
        String type = p.text("rope_type", p.text("type", "default"));
        return switch (type) {
            case "default" -> new Default();
            case "linear" -> new Linear(p.number("factor"));
            case "llama3" -> new Llama3(p.number("factor"), p.number("low_freq_factor"), p.number("high_freq_factor"),
                    p.has("original_max_position_embeddings") ? p.integer("original_max_position_embeddings")
                            : top.has("original_max_position_embeddings") ? top.integer("original_max_position_embeddings")
                            : top.integer("max_position_embeddings"));
            default -> throw p.unsupported("rope_type", "'" + type + "'", "supported: default, linear, llama3");
        };
    }

    /** Scaled inverse frequencies for a head of {@code headDim} dimensions and the given base. */
    float[] inverseFrequencies(double theta, int headDim);

    /** The original RoPE: {@code 1 / theta^(2j/d)}. */
    record Default() implements RopeScaling {
        @Override
        public float[] inverseFrequencies(double theta, int headDim) {
            return base(theta, headDim);
        }
    }

    /** Position interpolation: every frequency divided by {@code factor}. */
    record Linear(double factor) implements RopeScaling {
        @Override
        public float[] inverseFrequencies(double theta, int headDim) {
            float[] f = base(theta, headDim);
            for (int j = 0; j < f.length; j++) f[j] = (float) (f[j] / factor);
            return f;
        }
    }

    /** Llama 3.1: long wavelengths divided by {@code factor}, short ones kept, a smooth ramp between. */
    record Llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions)
            implements RopeScaling {
        @Override
        public float[] inverseFrequencies(double theta, int headDim) {
            float[] f = base(theta, headDim);
            double lowFreqWavelen = originalMaxPositions / lowFreqFactor;
            double highFreqWavelen = originalMaxPositions / highFreqFactor;
            for (int j = 0; j < f.length; j++) {
                float inv = f[j];
                // HF computes the wavelength and the ramp in float32 tensors against Python-float constants
                float wavelen = (float) (2 * Math.PI / inv);
                float scaled = wavelen > lowFreqWavelen ? (float) (inv / factor) : inv;
                boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
                if (medium) {
                    float smooth = (float) ((originalMaxPositions / (double) wavelen - lowFreqFactor)
                            / (highFreqFactor - lowFreqFactor));
                    scaled = (float) ((1f - smooth) * inv / factor) + smooth * inv;
                }
                f[j] = scaled;
            }
            return f;
        }
    }

    private static float[] base(double theta, int headDim) {
        float[] f = new float[headDim / 2];
        for (int j = 0; j < f.length; j++) {
            float exponent = (float) (2 * j) / headDim;
            f[j] = 1f / (float) Math.pow((float) theta, exponent);
        }
        return f;
    }
}
