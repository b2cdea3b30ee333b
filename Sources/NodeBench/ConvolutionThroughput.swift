import NodeCore
import NodeNN

/// How fast the ODE-Net block's convolution runs next to BLAS's own GEMM
/// peak, one thread: the concat-time 3×3 convolution `(w+1) → w` on `w × 6 × 6`
/// feature maps (W2's, `w` = 64) over a batch, forward and backward (input
/// and weight gradients), in GFLOP/s, beside `cblas_sgemm` on 512³.
public struct ConvolutionThroughput: Sendable {
  /// Median seconds of one forward pass and one backward pass over the batch.
  public let forwardSeconds: Double
  public let backwardSeconds: Double
  /// Their rates, counting `2·B·O·K·P` flops per product (`K` = patch size,
  /// `P` = output pixels) — one product forward, two backward.
  public let forwardGFLOPS: Double
  public let backwardGFLOPS: Double
  /// `cblas_sgemm` on 512×512×512 in the same process.
  public let gemmGFLOPS: Double

  /// Measures `iterations` runs (after `warmup`) of each at batch `batch` and width `width`.
  public static func measure(batch: Int = 128, width: Int = 64, iterations: Int, warmup: Int)
    -> ConvolutionThroughput
  {
    let geometry = ConvolutionGeometry(
      inputChannels: width + 1, outputChannels: width, kernel: (3, 3), padding: 1, input: (6, 6))
    let layer = ConcatTimeConv2d<Float>(geometry)
    let chain = Sequential<Float>([layer], names: ["conv"])
    let parameters = chain.initialParameters(seed: 1)
    let random = CounterRandom(seed: 2)
    let input = (0..<(batch * layer.inputSize)).map {
      random.normal(stream: 0, index: UInt64($0), as: Float.self)
    }
    let cotangent = (0..<(batch * layer.outputSize)).map {
      random.normal(stream: 1, index: UInt64($0), as: Float.self)
    }
    let times = [Float](repeating: 0.5, count: batch)
    var output = [Float](repeating: 0, count: batch * layer.outputSize)
    var inputBar = [Float](repeating: 0, count: batch * layer.inputSize)
    var gradient = [Float](repeating: 0, count: parameters.count)
    let product =
      2.0 * Double(batch * geometry.outputChannels * geometry.patchSize)
      * Double(geometry.outputPixels)
    // The layer alone: the chain's array form would add an allocation and
    // two copies of the batch to every pass. The chain keeps a view of its
    // input for the backward pass, so `x` lives until both are measured.
    let x = UnsafeMutablePointer<Float>.allocate(capacity: input.count)
    defer { x.deallocate() }
    x.initialize(from: input, count: input.count)
    let forward = TimingSummary.measure(iterations: iterations, warmup: warmup) {
      output.withUnsafeMutableBufferPointer { y in
        chain.forward(
          MatrixView(base: x, rows: batch, columns: layer.inputSize), times: times,
          parameters: parameters,
          into: MutableMatrixView(base: y.baseAddress!, rows: batch, columns: layer.outputSize))
      }
    }
    let backward = TimingSummary.measure(iterations: iterations, warmup: warmup) {
      cotangent.withUnsafeBufferPointer { dy in
        inputBar.withUnsafeMutableBufferPointer { dx in
          gradient.withUnsafeMutableBufferPointer { g in
            chain.backward(
              times: times, parameters: parameters,
              outputCotangent: MatrixView(
                base: dy.baseAddress!, rows: batch, columns: layer.outputSize),
              inputCotangent: MutableMatrixView(
                base: dx.baseAddress!, rows: batch, columns: layer.inputSize),
              timeCotangents: nil, parameterGradient: g.baseAddress!, rowWeights: nil)
          }
        }
      }
    }
    let n = 512
    let a = [Float](repeating: 0.5, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    let square = TimingSummary.measure(iterations: Swift.max(iterations / 2, 3), warmup: 2) {
      c.withUnsafeMutableBufferPointer { cp in
        gemm(.none, .none, m: n, n: n, k: n, a: a, lda: n, b: a, ldb: n, c: cp.baseAddress!, ldc: n)
      }
    }
    let f = forward.medianMilliseconds / 1e3
    let b = backward.medianMilliseconds / 1e3
    return ConvolutionThroughput(
      forwardSeconds: f, backwardSeconds: b, forwardGFLOPS: product / f / 1e9,
      backwardGFLOPS: 2 * product / b / 1e9,
      gemmGFLOPS: 2 * Double(n * n * n) / (square.medianMilliseconds / 1e3) / 1e9)
  }
}
