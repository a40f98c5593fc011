package dkv.scorers.worker;

import dkv.avro.ModelRef;
import java.nio.file.Path;

/** A WorkItem asks for a model other than the one this worker serves; the worker dead-letters it. */
public final class ModelMismatchException extends IllegalArgumentException {
    private final ModelRef wanted;
    private final ModelRef served;

    public ModelMismatchException(ModelRef wanted, ModelRef served, Path dir) {
        super("work item wants model " + describe(wanted) + " but this worker serves " + describe(served) + " from " + dir);
        this.wanted = wanted;
        this.served = served;
    }

    public ModelRef wanted() {
        return wanted;
    }

    /**
     * What would let this worker take such items. Plan presets name hub ids (e.g. mistralai/Mistral-7B-Instruct-v0.2)
     * while a worker answers to its directory's name by default, so the usual fix is the id.
     */
    public String fix() {
        if (wanted.getId().equals(served.getId())) {
            return "the work pins revision " + wanted.getRevision() + ": serve that snapshot";
        }
        return "if this directory holds '" + wanted.getId() + "', restart the scorer with --model-id " + wanted.getId();
    }

    private static String describe(ModelRef model) {
        return "'" + model.getId() + "'" + (model.getRevision() == null ? "" : " (revision " + model.getRevision() + ")");
    }
}
