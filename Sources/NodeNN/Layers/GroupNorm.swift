import NodeCore

/// Group normalisation (Wu & He, 2018; PyTorch's `nn.GroupNorm`) of one
/// sample `[C, H, W]`: the channels fall into `G` groups, each group is
/// normalised by its own mean and variance over its channels and pixels, then
/// scaled and shifted per channel. Parameters `weight` (γ) `[C]` then `bias`
/// (β) `[C]`. Statistics are per sample — never across the batch, which would
/// couple samples inside an ODE block.
public final class GroupNorm<Scalar: TensorScalar>: Layer {
  /// Channels, groups, pixels per channel and ε.
  public let channels: Int
  public let groups: Int
  public let pixels: Int
  public let epsilon: Scalar
  private let normalized = ScratchBuffer<Scalar>()
  private let inverseDeviations = ScratchBuffer<Scalar>()

  /// Normalisation of `channels × pixels` features in `groups` groups.
  ///
  /// - Precondition: `groups` divides `channels`.
  public init(groups: Int, channels: Int, pixels: Int, epsilon: Scalar = 1e-5) {
    precondition(
      groups > 0 && channels % groups == 0, "\(groups) groups do not divide \(channels) channels")
    self.groups = groups
    self.channels = channels
    self.pixels = pixels
    self.epsilon = epsilon
  }

  public var inputSize: Int { channels * pixels }
  public var outputSize: Int { channels * pixels }
  public var parameterGradientNeedsOnlyOperands: Bool { true }

  public var parameterTensors: [ParameterTensor] {
    [
      ParameterTensor(name: "weight", shape: [channels], initialization: .constant(1)),
      ParameterTensor(name: "bias", shape: [channels], initialization: .constant(0)),
    ]
  }

  private var groupSize: Int { channels / groups * pixels }

  /// `x̂` of every row into the scratch and `1/σ` per row and group.
  private func normalize(_ x: MatrixView<Scalar>) -> (
    UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>
  ) {
    let n = x.rows
    let hat = normalized.reserve(n * inputSize)
    let inverse = inverseDeviations.reserve(n * groups)
    if GroupNormKernel.run(for: Scalar.self) {
      GroupNormKernel.normalize(
        x, channels: channels, groups: groups, pixels: pixels, epsilon: epsilon, gamma: nil,
        beta: nil, into: nil, hat: hat, inverse: inverse)
      return (hat, inverse)
    }
    let size = groupSize
    // Group pointers and wrapping index arithmetic: the element loops vectorise.
    for r in 0..<n {
      for g in 0..<groups {
        let source = x.row(r) + g &* size
        let target = hat + (r &* inputSize &+ g &* size)
        let mean = VectorReduction.sum(source, count: size) / Scalar(size)
        let variance =
          VectorReduction.squaredDeviations(source, count: size, from: mean) / Scalar(size)
        let scale = 1 / (variance + epsilon).squareRoot()
        inverse[r &* groups &+ g] = scale
        for i in 0..<size { target[i] = (source[i] - mean) * scale }
      }
    }
    return (hat, inverse)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    let (gamma, beta) = (parameters, parameters + channels)
    if GroupNormKernel.run(for: Scalar.self) {
      // x̂ recomputed for the output instead of stored: the same values as below.
      GroupNormKernel.normalize(
        x, channels: channels, groups: groups, pixels: pixels, epsilon: epsilon, gamma: gamma,
        beta: beta, into: y, hat: nil, inverse: nil)
      return
    }
    let (hat, _) = normalize(x)
    for r in 0..<x.rows {
      for c in 0..<channels {
        let out = y.row(r) + c &* pixels
        let source = hat + (r &* inputSize &+ c &* pixels)
        let (scale, shift) = (gamma[c], beta[c])
        for p in 0..<pixels { out[p] = scale * source[p] + shift }
      }
    }
  }

  /// Per group: `v ↦ (1/σ)(v − mean(v) − x̂ mean(x̂ v))`, the normalisation's
  /// Jacobian (it is symmetric), applied in place to `values` of one row.
  private func project(
    _ values: UnsafeMutablePointer<Scalar>, hat: UnsafePointer<Scalar>,
    inverse: UnsafePointer<Scalar>
  ) {
    let size = groupSize
    for g in 0..<groups {
      let (v, h) = (values + g &* size, hat + g &* size)
      let mean = VectorReduction.sum(v, count: size) / Scalar(size)
      let correlation = VectorReduction.dot(v, h, count: size) / Scalar(size)
      let scale = inverse[g]
      for i in 0..<size { v[i] = scale * (v[i] - mean - h[i] * correlation) }
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    let (hat, inverse) = normalize(x)
    let gamma = parameters
    if GroupNormKernel.run(for: Scalar.self) {
      GroupNormKernel.backward(
        hat: hat, inverse: inverse, outputCotangent: dy, channels: channels, groups: groups,
        pixels: pixels, gamma: gamma, inputCotangent: dx, parameterGradient: parameterGradient,
        rowWeights: rowWeights)
      return
    }
    for r in 0..<x.rows {
      let upstream = dy.row(r)
      let rowHat = hat + r * inputSize
      if let gradient = parameterGradient {
        let w = rowWeights?[r] ?? 1
        for c in 0..<channels {
          let (u, h) = (upstream + c &* pixels, rowHat + c &* pixels)
          gradient[c] += w * VectorReduction.dot(u, h, count: pixels)
          gradient[channels + c] += w * VectorReduction.sum(u, count: pixels)
        }
      }
      if let dx {
        let target = dx.row(r)
        for c in 0..<channels {
          let (t, u, scale) = (target + c &* pixels, upstream + c &* pixels, gamma[c])
          for p in 0..<pixels { t[p] = scale * u[p] }
        }
        project(target, hat: rowHat, inverse: inverse + r * groups)
      }
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    let (hat, inverse) = normalize(x)
    for r in 0..<x.rows {
      for k in 0..<directions {
        let source = inputTangents.row(r) + k * inputSize
        let target = outputTangents.row(r) + k * outputSize
        for i in 0..<inputSize { target[i] = source[i] }
        project(target, hat: hat + r * inputSize, inverse: inverse + r * groups)
        for c in 0..<channels {
          for p in 0..<pixels { target[c * pixels + p] *= parameters[c] }
        }
      }
    }
  }
}
