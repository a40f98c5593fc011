package dkv.scorers.model.checkpoint;

/**
 * A pickle that asks for something a torch state dict never needs (a global outside the allowed few, an opcode
 * the reader does not implement, a call of a non-callable): refused before anything is resolved or run.
 */
public final class RefusedPickleException extends IllegalArgumentException {

    RefusedPickleException(String message) {
        super(message);
    }
}
