package dkv.scorers.model;

import dkv.scorers.recipe.ModelShape;

/**
 * A decoder-only model whose prompt is bidirectional (GLM / ChatGLM-6B, DESIGN.md "Prefix-LM layout"): one stream
 * {@code TEXT·[gMASK]·<sop>·QUERY·ANSWER}, TEXT and {@code [gMASK]} see each other both ways, keys rotated by 2D RoPE.
 * Because every prompt entry depends on the whole prompt, only an identical prompt's cache may be reused.
 */
public interface PrefixLm extends CausalLm {

    @Override
    default ModelShape shape() {
        return ModelShape.PREFIX_LM;
    }

    @Override
    default PrefixSharing prefixSharing() {
        return PrefixSharing.EXACT;
    }

    /** The 2D rotary embedding of every layer's keys, for truncation's re-rotation of the position channel. */
    Rope2D rope2D();
}
