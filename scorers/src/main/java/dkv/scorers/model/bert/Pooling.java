package dkv.scorers.model.bert;

import dkv.scorers.model.ConfigFields;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How a sentence-transformers Pooling module turns the last hidden states into one vector per text, over the tokens
 * the attention mask keeps ([CLS] and [SEP] included, padding excluded), in float32. The modes it can be configured
 * with that are not here (mean_sqrt_len_tokens, weightedmean, lasttoken, several concatenated) are refused.
 */
public enum Pooling {
    /** The first token's vector ([CLS]); rows are left-aligned, so that is index 0. */
    CLS,
    /** The mean over the kept tokens (all-MiniLM-L6-v2's mode). */
    MEAN,
    /** The elementwise maximum over the kept tokens. */
    MAX;

    /** The legacy boolean keys, in sentence-transformers' order, and the mode each stands for. */
    private static final List<Map.Entry<String, String>> LEGACY = List.of(
            Map.entry("pooling_mode_cls_token", "cls"),
            Map.entry("pooling_mode_max_tokens", "max"),
            Map.entry("pooling_mode_mean_tokens", "mean"),
            Map.entry("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
            Map.entry("pooling_mode_weightedmean_tokens", "weightedmean"),
            Map.entry("pooling_mode_lasttoken", "lasttoken"));

    /**
     * Reads a Pooling module's {@code config.json}: {@code pooling_mode} (a name or a list of names) or, in older
     * snapshots, the {@code pooling_mode_*} booleans (none true meaning mean, as sentence-transformers reads them).
     */
    static Pooling read(ConfigFields f, int hidden) {
        for (String width : List.of("embedding_dimension", "word_embedding_dimension")) {
            if (f.has(width) && f.integer(width) != hidden) throw f.unsupported(width, f.integer(width), "the hidden size " + hidden);
        }
        List<String> modes = new ArrayList<>();
        String field;
        if (f.has("pooling_mode")) {
            field = "pooling_mode";
            if (f.required(field).isArray()) modes.addAll(f.texts(field));
            else modes.add(f.text(field));
        } else {
            field = "pooling_mode_*";
            for (Map.Entry<String, String> legacy : LEGACY) {
                if (f.bool(legacy.getKey(), false)) modes.add(legacy.getValue());
            }
            if (modes.isEmpty()) modes.add("mean");
        }
        if (modes.size() != 1) throw f.unsupported(field, modes, "exactly one of cls, mean, max");
        return switch (modes.getFirst()) {
            case "cls" -> CLS;
            case "mean" -> MEAN;
            case "max" -> MAX;
            default -> throw f.unsupported(field, modes.getFirst(), "cls, mean, max");
        };
    }

    /**
     * One vector per row, float32 [B, hidden].
     *
     * @param hidden last hidden states [B, width, hidden], rows left-aligned
     * @param kept   bool [B, width]: the tokens each row really has
     */
    public Tensor pool(Tensor hidden, Tensor kept) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor h = Ops.to(hidden, DType.FLOAT32);
            result = scope.keep(switch (this) {
                case CLS -> Ops.select(h, 1, 0);
                case MEAN -> {
                    // a [B, 1, width] · [B, width, hidden] product sums each row's kept tokens in one GEMM
                    Tensor weights = Ops.to(kept, DType.FLOAT32);
                    Tensor sums = Ops.select(Ops.matmul(Ops.unsqueeze(weights, 1), h), 1, 0);
                    yield Ops.div(sums, Ops.sumLastDim(weights, true));
                }
                case MAX -> Ops.max(Ops.maskedFill(h, Ops.unsqueeze(Ops.logicalNot(kept), -1), Double.NEGATIVE_INFINITY), 1, false);
            });
        }
        return result;
    }
}
