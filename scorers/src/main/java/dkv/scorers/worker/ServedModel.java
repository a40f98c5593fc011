package dkv.scorers.worker;

import dkv.avro.ModelRef;
import dkv.scorers.model.LoadedModel;

/**
 * The model a worker serves and the name it answers to. A WorkItem matches when its model id is this id and,
 * where both sides name a revision, the revisions are equal: a plan pinned to other weights is refused
 * rather than scored with the wrong ones.
 *
 * @param id       what WorkItems call this model (e.g. the plan's {@code model.id}); the directory name by default
 * @param revision the snapshot's revision ({@link dkv.scorers.model.ModelSnapshot#revision()})
 */
public record ServedModel(LoadedModel lm, String id, String revision) {

    public ServedModel {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("served model id must not be blank");
        }
    }

    /** Serves {@code lm} under its directory name, or under {@code id} when one is given. */
    public static ServedModel of(LoadedModel lm, String id) {
        return new ServedModel(lm, id == null ? lm.snapshot().name() : id, lm.snapshot().revision());
    }

    public ModelRef ref() {
        return ModelRef.newBuilder().setId(id).setRevision(revision).build();
    }

    /** Throws {@link ModelMismatchException} naming both sides when {@code wanted} is not this model. */
    public void requireMatch(ModelRef wanted) {
        boolean sameId = id.equals(wanted.getId());
        boolean sameRevision = wanted.getRevision() == null || wanted.getRevision().equals(revision);
        if (!sameId || !sameRevision) {
            throw new ModelMismatchException(wanted, ref(), lm.snapshot().dir());
        }
    }
}
