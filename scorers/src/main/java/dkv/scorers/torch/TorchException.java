package dkv.scorers.torch;

/** A libtorch call failed, or libtorch could not be located/loaded. The message names the op or the file. */
public class TorchException extends RuntimeException {
    public TorchException(String message) {
        super(message);
    }

    public TorchException(String message, Throwable cause) {
        super(message, cause);
    }
}
