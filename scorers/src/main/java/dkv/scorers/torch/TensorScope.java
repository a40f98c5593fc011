package dkv.scorers.torch;

import java.util.ArrayList;
import java.util.function.Supplier;

/**
 * Owns every tensor created on this thread while it is the innermost open scope, and closes them when it
 * closes. {@link #keep} moves a result out to the enclosing scope (or to the caller when there is none):
 *
 * <pre>{@code
 * Tensor y;
 * try (var scope = TensorScope.open()) {
 *     Tensor h = Ops.matmul(x, w);         // freed at the end of the block
 *     y = scope.keep(Ops.silu(h));         // survives the block
 * }
 * }</pre>
 *
 * Scopes nest and must close in reverse order of opening, on the thread that opened them.
 */
public final class TensorScope implements AutoCloseable {

    private static final ThreadLocal<TensorScope> CURRENT = new ThreadLocal<>();

    private final TensorScope parent;
    private final Thread owner;
    private final ArrayList<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private TensorScope(TensorScope parent) {
        this.parent = parent;
        this.owner = Thread.currentThread();
    }

    /** Opens a scope nested in the current one and makes it current. */
    public static TensorScope open() {
        TensorScope scope = new TensorScope(CURRENT.get());
        CURRENT.set(scope);
        return scope;
    }

    /** The innermost open scope on this thread, or null when none is open. */
    public static TensorScope current() {
        return CURRENT.get();
    }

    /** The scope this one is nested in (where {@link #keep} moves tensors), or null. */
    public TensorScope enclosing() {
        return parent;
    }

    /**
     * Runs {@code make} with {@code scope} as the current scope, so what it creates is owned there (with null: by the
     * caller), then restores the current scope. For tensors made lazily on behalf of an object that belongs to an
     * outer scope (a cache's views materialised on first use).
     */
    public static <T> T within(TensorScope scope, Supplier<T> make) {
        if (scope != null && (scope.closed || scope.owner != Thread.currentThread())) {
            throw new IllegalStateException("making tensors for a scope that is closed or belongs to another thread");
        }
        TensorScope saved = CURRENT.get();
        CURRENT.set(scope);
        try {
            return make.get();
        } finally {
            CURRENT.set(saved);
        }
    }

    static void register(Tensor t) {
        TensorScope scope = CURRENT.get();
        if (scope != null) {
            scope.owned.add(t);
        }
    }

    /** Moves {@code t} from this scope to the enclosing one (or to the caller); returns it. */
    public Tensor keep(Tensor t) {
        for (int i = owned.size() - 1; i >= 0; i--) {
            if (owned.get(i) == t) {
                owned.remove(i);
                if (parent != null) {
                    parent.owned.add(t);
                }
                return t;
            }
        }
        throw new IllegalArgumentException("tensor " + t + " is not owned by this scope");
    }

    /** Number of tensors this scope will close (closed ones included until the scope ends). */
    public int size() {
        return owned.size();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a TensorScope must be closed on the thread that opened it");
        }
        closed = true;
        RuntimeException failure = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        owned.clear();
        if (CURRENT.get() != this) {
            CURRENT.set(parent);
            throw new IllegalStateException("TensorScope closed out of order: an inner scope was still open");
        }
        CURRENT.set(parent);
        if (failure != null) {
            throw failure;
        }
    }
}
