package io.animatediff.engine.ops;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch kernels DJL does not expose (fused scaled-dot-product attention, group_norm, silu, and
 * bfloat16 attention, matmul, linear and conv2d),
 * reached through one TorchScript module that is written without Python at first use, loaded once
 * per process through DJL and kept for the process's lifetime.
 *
 * <p>Calls run the module's methods with autograd left as the caller set it (so DJL's
 * GradientCollector records them), passing tensors, ints and floats as TorchScript values; results
 * belong to the first input's manager. DJL's public {@code IValueUtils.runMethod} runs methods under
 * {@code c10::InferenceMode}, whose outputs can be neither updated in place nor differentiated, so
 * the call goes to the native method {@code PyTorchLibrary.moduleRunMethod} with training semantics
 * instead; if that entry point is missing (another DJL version) the kernels report unavailable and
 * {@link Ops} composes.
 */
final class FusedKernels {
    private static final Logger LOG = LoggerFactory.getLogger(FusedKernels.class);

    static final String ARCHIVE_NAME = "animatediff_ops";
    static final String CLASS_NAME = "FusedOps";

    /** The module's methods, in TorchScript's serialized Python subset. */
    static final String METHODS = """
            def forward(self: __torch__.FusedOps,
                q: Tensor,
                k: Tensor,
                v: Tensor) -> Tensor:
              return self.attention(q, k, v)
            def attention(self: __torch__.FusedOps,
                q: Tensor,
                k: Tensor,
                v: Tensor) -> Tensor:
              if q.dim() == 4:
                return torch.scaled_dot_product_attention(q, k, v)
              if q.dim() == 3:
                out = torch.scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0))
                return out.squeeze(0)
              sq = q.size(-2)
              sk = k.size(-2)
              d = q.size(-1)
              dv = v.size(-1)
              lead = q.size()[:-2]
              q4 = q.reshape([1, -1, sq, d])
              k4 = k.reshape([1, -1, sk, d])
              v4 = v.reshape([1, -1, sk, dv])
              out = torch.scaled_dot_product_attention(q4, k4, v4)
              return out.reshape(lead + [sq, dv])
            def group_norm(self: __torch__.FusedOps,
                x: Tensor,
                groups: int,
                weight: Tensor,
                bias: Tensor,
                eps: float) -> Tensor:
              return torch.group_norm(x.contiguous(), groups, weight, bias, eps, True)
            def silu(self: __torch__.FusedOps,
                x: Tensor) -> Tensor:
              return torch.silu(x)
            def attention_bf16(self: __torch__.FusedOps,
                q: Tensor,
                k: Tensor,
                v: Tensor) -> Tensor:
              out = self.attention(torch.to(q, 15), torch.to(k, 15), torch.to(v, 15))
              return torch.to(out, 6)
            def matmul_bf16(self: __torch__.FusedOps,
                a: Tensor,
                b: Tensor) -> Tensor:
              return torch.to(torch.matmul(torch.to(a, 15), torch.to(b, 15)), 6)
            def to_bf16(self: __torch__.FusedOps,
                x: Tensor) -> Tensor:
              return torch.to(x, 15)
            def linear_bf16(self: __torch__.FusedOps,
                x: Tensor,
                w: Tensor,
                b: Tensor) -> Tensor:
              return torch.to(torch.linear(torch.to(x, 15), torch.to(w, 15), torch.to(b, 15)), 6)
            def linear_bf16_nobias(self: __torch__.FusedOps,
                x: Tensor,
                w: Tensor) -> Tensor:
              return torch.to(torch.linear(torch.to(x, 15), torch.to(w, 15)), 6)
            def conv2d_bf16(self: __torch__.FusedOps,
                x: Tensor,
                w: Tensor,
                b: Tensor,
                stride: int,
                padding: int) -> Tensor:
              y = torch.conv2d(torch.to(x, 15), torch.to(w, 15), torch.to(b, 15), [stride, stride], [padding, padding])
              return torch.to(y, 6)
            def conv2d_bf16_nobias(self: __torch__.FusedOps,
                x: Tensor,
                w: Tensor,
                stride: int,
                padding: int) -> Tensor:
              y = torch.conv2d(torch.to(x, 15), torch.to(w, 15), None, [stride, stride], [padding, padding])
              return torch.to(y, 6)
            def requires_grad(self: __torch__.FusedOps,
                x: Tensor) -> bool:
              return x.requires_grad
            def gradients(self: __torch__.FusedOps,
                loss: Tensor,
                inputs: List[Tensor]) -> List[Tensor]:
              grads = torch.autograd.grad([loss], inputs, None, None, False, True)
              out = annotate(List[Tensor], [])
              for i in range(len(grads)):
                g = grads[i]
                if g is None:
                  out.append(torch.zeros_like(inputs[i]))
                else:
                  out.append(g)
              return out
            """;

    private final Model model; // holds the module: open for the process's lifetime
    private final long moduleHandle;
    private final Object library;
    private final MethodHandle runMethod; // (library, module, method, inputs, isTrain, cudaStream) -> long
    private final MethodHandle newIValue; // (handle) -> IValue

    private FusedKernels(
            Model model, long moduleHandle, Object library, MethodHandle runMethod, MethodHandle newIValue) {
        this.model = model;
        this.moduleHandle = moduleHandle;
        this.library = library;
        this.runMethod = runMethod;
        this.newIValue = newIValue;
    }

    /** The process's kernels, loaded on first call; empty (after one warning) where they cannot load. */
    static Optional<FusedKernels> get() {
        return Holder.INSTANCE;
    }

    private static final class Holder {
        static final Optional<FusedKernels> INSTANCE = loadOrWarn(FusedKernels::load);
    }

    /** Runs the loader; on any failure logs one warning and returns empty, never throws. */
    static Optional<FusedKernels> loadOrWarn(Callable<FusedKernels> loader) {
        try {
            return Optional.of(loader.call());
        } catch (Exception | LinkageError e) {
            LOG.warn(
                    "Fused libtorch kernels are unavailable ({}); attention, group norm and silu fall back to composed"
                            + " DJL ops, which are several times slower. Check that the PyTorch engine of DJL {}"
                            + " is on the classpath.",
                    e.toString(),
                    ai.djl.engine.Engine.getDjlVersion());
            return Optional.empty();
        }
    }

    /**
     * Finds the native entry points, then writes the archive into a fresh temporary directory, loads
     * it through DJL and removes the files.
     */
    static FusedKernels load() throws Exception {
        Class<?> libraryClass = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
        Field libField = libraryClass.getDeclaredField("LIB");
        libField.setAccessible(true);
        Method run = libraryClass.getDeclaredMethod(
                "moduleRunMethod", long.class, String.class, long[].class, boolean.class, boolean.class);
        run.setAccessible(true);
        Constructor<IValue> ivalue = IValue.class.getDeclaredConstructor(long.class);
        ivalue.setAccessible(true);
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        MethodHandle runHandle = lookup.unreflect(run)
                .asType(MethodType.methodType(
                        long.class,
                        Object.class,
                        long.class,
                        String.class,
                        long[].class,
                        boolean.class,
                        boolean.class));
        MethodHandle ivalueHandle = lookup.unreflectConstructor(ivalue);

        byte[] archive = TorchScriptArchive.build(ARCHIVE_NAME, CLASS_NAME, METHODS);
        Path dir = Files.createTempDirectory("animatediff-ops");
        Path file = dir.resolve(ARCHIVE_NAME + ".pt");
        Model model = Model.newInstance(ARCHIVE_NAME, "PyTorch");
        try {
            Files.write(file, archive);
            model.load(dir, ARCHIVE_NAME);
        } catch (Exception e) {
            model.close();
            throw e;
        } finally {
            deleteQuietly(file);
            deleteQuietly(dir);
        }
        long module = ((PtSymbolBlock) model.getBlock()).getHandle();
        return new FusedKernels(model, module, libField.get(null), runHandle, ivalueHandle);
    }

    /** torch.scaled_dot_product_attention; q (..., Sq, D), k (..., Sk, D), v (..., Sk, Dv). */
    NDArray attention(NDArray q, NDArray k, NDArray v) {
        return call("attention", q, k, v);
    }

    /**
     * torch.group_norm(x, groups, weight, bias, eps); x (N, C, *). The input is made contiguous first:
     * libtorch 2.7.1's CPU backward for a channels-last input with a contiguous gradient (the layout
     * a temporal transformer's output has) reads out of bounds and crashes the process.
     */
    NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        return call("group_norm", x, (long) groups, weight, bias, eps);
    }

    /** torch.silu(x). */
    NDArray silu(NDArray x) {
        return call("silu", x);
    }

    /**
     * Attention in bfloat16 (ScalarType 15) with a float32 (6) result: q, k, v float32 are cast
     * inside libtorch, since DJL's PyTorch engine holds no bfloat16 arrays. For measuring only.
     */
    NDArray attentionBf16(NDArray q, NDArray k, NDArray v) {
        return call("attention_bf16", q, k, v);
    }

    /** a @ b in bfloat16 with a float32 result, cast inside libtorch like {@link #attentionBf16}. */
    NDArray matmulBf16(NDArray a, NDArray b) {
        return call("matmul_bf16", a, b);
    }

    /**
     * A bfloat16 copy of x, held by libtorch: DJL reports its data type as UNKNOWN and can run no op
     * on it, but the copy can be passed back to {@link #linearBf16} and {@link #conv2dBf16} and
     * closed. Belongs to x's manager.
     */
    NDArray toBf16(NDArray x) {
        return call("to_bf16", x);
    }

    /**
     * torch.linear in bfloat16 with a float32 result; x (..., Cin) float32, w (Cout, Cin) float32
     * (cast per call) or a {@link #toBf16} copy (used as is), b (Cout) float32 or null.
     */
    NDArray linearBf16(NDArray x, NDArray w, NDArray b) {
        return b == null ? call("linear_bf16_nobias", x, w) : call("linear_bf16", x, w, b);
    }

    /**
     * torch.conv2d in bfloat16 with a float32 result; x (N, Cin, H, W) float32, w (Cout, Cin, k, k)
     * float32 (cast per call) or a {@link #toBf16} copy, b (Cout) float32 or null.
     */
    NDArray conv2dBf16(NDArray x, NDArray w, NDArray b, int stride, int padding) {
        return b == null
                ? call("conv2d_bf16_nobias", x, w, (long) stride, (long) padding)
                : call("conv2d_bf16", x, w, b, (long) stride, (long) padding);
    }

    /**
     * libtorch's {@code x.requires_grad}: true for a leaf that requires grad and for every result
     * autograd recorded from one. DJL's {@code NDArray.hasGradient()} is not that: its native
     * {@code torchRequiresGrad} returns {@code requires_grad() && (is_leaf() || retains_grad())}, so
     * it is false for every intermediate result.
     */
    boolean requiresGrad(NDArray x) {
        IValue input = IValue.from((PtNDArray) x);
        try {
            long result = invoke("requires_grad", new long[] {input.getHandle()});
            try (IValue value = (IValue) newIValue.invoke(result)) {
                return value.toBoolean();
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fused kernel requires_grad failed", t);
        } finally {
            input.close();
        }
    }

    /**
     * {@code torch.autograd.grad([loss], inputs, allow_unused=True)}: d loss / d input for each input,
     * zeros where the loss does not depend on it, without touching any {@code .grad}; the graph is
     * freed. Results belong to the loss's manager.
     */
    NDArray[] gradients(NDArray loss, List<NDArray> inputs) {
        IValue lossValue = IValue.from((PtNDArray) loss);
        IValue list = IValue.listFrom(inputs.stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
        try {
            long result = invoke("gradients", new long[] {lossValue.getHandle(), list.getHandle()});
            try (IValue value = (IValue) newIValue.invoke(result)) {
                return value.toTensorArray((PtNDManager) loss.getManager());
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fused kernel gradients failed", t);
        } finally {
            lossValue.close();
            list.close();
        }
    }

    /** Whether every array is a PyTorch-engine array these kernels can take. */
    static boolean accepts(NDArray... arrays) {
        for (NDArray a : arrays) {
            if (!(a instanceof PtNDArray)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Runs a method of the module: arguments are PyTorch NDArrays, Longs or Doubles, the first an
     * NDArray; the result tensor belongs to the first argument's manager.
     */
    private NDArray call(String method, NDArray first, Object... rest) {
        Object[] arguments = new Object[rest.length + 1];
        arguments[0] = first;
        System.arraycopy(rest, 0, arguments, 1, rest.length);
        IValue[] inputs = new IValue[arguments.length];
        try {
            long[] handles = new long[arguments.length];
            for (int i = 0; i < arguments.length; i++) {
                Object a = arguments[i];
                if (a instanceof PtNDArray array) {
                    inputs[i] = IValue.from(array);
                } else if (a instanceof Long l) {
                    inputs[i] = IValue.from(l.longValue());
                } else if (a instanceof Double d) {
                    inputs[i] = IValue.from(d.doubleValue());
                } else {
                    throw new IllegalArgumentException("fused kernel " + method + ": argument " + i + " is a "
                            + (a == null ? "null" : a.getClass().getName()) + ", expected a PyTorch NDArray");
                }
                handles[i] = inputs[i].getHandle();
            }
            long result = invoke(method, handles);
            try (IValue value = (IValue) newIValue.invoke(result)) {
                return value.toTensor((PtNDManager) first.getManager());
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fused kernel " + method + " failed", t);
        } finally {
            for (IValue input : inputs) {
                if (input != null) {
                    input.close();
                }
            }
        }
    }

    private long invoke(String method, long[] handles) throws Throwable {
        // isTrain = true: no InferenceMode guard, autograd follows the caller's grad mode.
        return (long) runMethod.invokeExact(library, moduleHandle, method, handles, true, false);
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.debug("could not delete {}: {}", path, e.toString());
        }
    }
}
