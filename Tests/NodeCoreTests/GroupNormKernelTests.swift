import Foundation
import NodeCore
import Testing

/// The group-norm kernel gives, bit for bit, the portable passes' arithmetic:
/// mean and variance by ``VectorReduction`` (eight partial sums), `1/√(v + ε)`,
/// `x̂ = (x − m)·s` and `γ x̂ + β` as separate multiplies and adds.
@Suite struct GroupNormKernelTests {
  @Test(arguments: [(6, 3, 5), (64, 32, 36), (4, 1, 9), (2, 2, 1), (12, 6, 5)])
  func matchesThePortableFormulas(channels: Int, groups: Int, pixels: Int) throws {
    try #require(GroupNormKernel.run(for: Float.self))
    let (rows, width) = (3, channels * pixels)
    let stride = width + 3
    let x = (0..<(rows * stride)).map { Float(sin(Double($0) * 0.7)) * 3 + Float($0 % 5) }
    let gamma = (0..<channels).map { Float(cos(Double($0))) }
    let beta = (0..<channels).map { Float($0) * 0.1 - 0.2 }
    let epsilon: Float = 1e-5
    var (hat, inverse) = (
      [Float](repeating: 9, count: rows * width), [Float](repeating: 9, count: rows * groups)
    )
    var y = [Float](repeating: 9, count: rows * stride)
    x.withUnsafeBufferPointer { xs in
      let view = MatrixView(base: xs.baseAddress!, rows: rows, columns: width, rowStride: stride)
      hat.withUnsafeMutableBufferPointer { h in
        inverse.withUnsafeMutableBufferPointer { i in
          GroupNormKernel.normalize(
            view, channels: channels, groups: groups, pixels: pixels, epsilon: epsilon, gamma: nil,
            beta: nil, into: nil, hat: h.baseAddress!, inverse: i.baseAddress!)
        }
      }
      y.withUnsafeMutableBufferPointer { out in
        GroupNormKernel.normalize(
          view, channels: channels, groups: groups, pixels: pixels, epsilon: epsilon,
          gamma: gamma, beta: beta,
          into: MutableMatrixView(
            base: out.baseAddress!, rows: rows, columns: width, rowStride: stride),
          hat: nil, inverse: nil)
      }
    }
    let size = channels / groups * pixels
    for r in 0..<rows {
      for g in 0..<groups {
        let start = r * stride + g * size
        let group = Array(x[start..<(start + size)])
        let (mean, variance) = group.withUnsafeBufferPointer { p -> (Float, Float) in
          let mean = VectorReduction.sum(p.baseAddress!, count: size) / Float(size)
          return (
            mean,
            VectorReduction.squaredDeviations(p.baseAddress!, count: size, from: mean) / Float(size)
          )
        }
        let scale = 1 / (variance + epsilon).squareRoot()
        #expect(inverse[r * groups + g].bitPattern == scale.bitPattern)
        for i in 0..<size {
          let expectedHat = (group[i] - mean) * scale
          let c = (g * size + i) / pixels
          let expectedY = gamma[c] * expectedHat + beta[c]
          #expect(hat[r * width + g * size + i].bitPattern == expectedHat.bitPattern)
          #expect(y[r * stride + g * size + i].bitPattern == expectedY.bitPattern)
        }
      }
      #expect(
        y[(r * stride + width)..<((r + 1) * stride)].allSatisfy { $0 == 9 }, "row padding untouched"
      )
    }
  }

  /// The backward pass against the portable formulas, bit for bit: `γ̄ += w Σ dy x̂`,
  /// `β̄ += w Σ dy` per channel, and per group `s (v − mean(v) − x̂ mean(x̂ v))`, `v = γ dy`.
  @Test(arguments: [(6, 3, 5, true), (64, 32, 36, true), (4, 1, 9, true), (12, 6, 5, false)])
  func backwardMatchesThePortableFormulas(
    channels: Int, groups: Int, pixels: Int, weighted: Bool
  ) throws {
    try #require(GroupNormKernel.run(for: Float.self))
    let (rows, width) = (3, channels * pixels)
    let stride = width + 2
    let x = (0..<(rows * width)).map { Float(sin(Double($0) * 0.3)) * 2 + Float($0 % 3) }
    let dy = (0..<(rows * stride)).map { Float(cos(Double($0) * 0.9)) }
    let gamma = (0..<channels).map { Float(0.5 + Double($0 % 4) * 0.25) }
    let weights: [Float] = weighted ? [0.5, 2, 1.25] : [1, 1, 1]
    var (hat, inverse) = (
      [Float](repeating: 0, count: rows * width), [Float](repeating: 0, count: rows * groups)
    )
    var dx = [Float](repeating: 9, count: rows * stride)
    var gradient = (0..<(2 * channels)).map { Float($0) * 0.01 }
    let initialGradient = gradient
    x.withUnsafeBufferPointer { xs in
      hat.withUnsafeMutableBufferPointer { h in
        inverse.withUnsafeMutableBufferPointer { i in
          GroupNormKernel.normalize(
            MatrixView(base: xs.baseAddress!, rows: rows, columns: width), channels: channels,
            groups: groups, pixels: pixels, epsilon: 1e-5, gamma: nil, beta: nil, into: nil,
            hat: h.baseAddress!, inverse: i.baseAddress!)
        }
      }
    }
    dy.withUnsafeBufferPointer { d in
      dx.withUnsafeMutableBufferPointer { out in
        gradient.withUnsafeMutableBufferPointer { grad in
          GroupNormKernel.backward(
            hat: hat, inverse: inverse,
            outputCotangent: MatrixView(
              base: d.baseAddress!, rows: rows, columns: width, rowStride: stride),
            channels: channels, groups: groups, pixels: pixels, gamma: gamma,
            inputCotangent: MutableMatrixView(
              base: out.baseAddress!, rows: rows, columns: width, rowStride: stride),
            parameterGradient: grad.baseAddress!, rowWeights: weighted ? weights : nil)
        }
      }
    }
    // Each output alone: the gradient without dx, dx without the gradient.
    var gradientAlone = initialGradient
    var dxAlone = [Float](repeating: 9, count: rows * stride)
    dy.withUnsafeBufferPointer { d in
      let cotangent = MatrixView(
        base: d.baseAddress!, rows: rows, columns: width, rowStride: stride)
      gradientAlone.withUnsafeMutableBufferPointer { grad in
        GroupNormKernel.backward(
          hat: hat, inverse: inverse, outputCotangent: cotangent, channels: channels,
          groups: groups, pixels: pixels, gamma: gamma, inputCotangent: nil,
          parameterGradient: grad.baseAddress!, rowWeights: weighted ? weights : nil)
      }
      dxAlone.withUnsafeMutableBufferPointer { out in
        GroupNormKernel.backward(
          hat: hat, inverse: inverse, outputCotangent: cotangent, channels: channels,
          groups: groups, pixels: pixels, gamma: gamma,
          inputCotangent: MutableMatrixView(
            base: out.baseAddress!, rows: rows, columns: width, rowStride: stride),
          parameterGradient: nil, rowWeights: nil)
      }
    }
    #expect(gradientAlone.map(\.bitPattern) == gradient.map(\.bitPattern))
    #expect(dxAlone.map(\.bitPattern) == dx.map(\.bitPattern))
    var expectedGradient = initialGradient
    let size = channels / groups * pixels
    for r in 0..<rows {
      let u = Array(dy[(r * stride)..<(r * stride + width)])
      let h = Array(hat[(r * width)..<((r + 1) * width)])
      u.withUnsafeBufferPointer { up in
        h.withUnsafeBufferPointer { hp in
          for c in 0..<channels {
            let (uc, hc) = (up.baseAddress! + c * pixels, hp.baseAddress! + c * pixels)
            expectedGradient[c] += weights[r] * VectorReduction.dot(uc, hc, count: pixels)
            expectedGradient[channels + c] += weights[r] * VectorReduction.sum(uc, count: pixels)
          }
        }
      }
      var v = (0..<width).map { gamma[$0 / pixels] * u[$0] }
      for g in 0..<groups {
        let (mean, correlation) = v.withUnsafeBufferPointer { vp in
          h.withUnsafeBufferPointer { hp in
            (
              VectorReduction.sum(vp.baseAddress! + g * size, count: size) / Float(size),
              VectorReduction.dot(
                vp.baseAddress! + g * size, hp.baseAddress! + g * size, count: size)
                / Float(size)
            )
          }
        }
        let scale = inverse[r * groups + g]
        for i in (g * size)..<((g + 1) * size) { v[i] = scale * (v[i] - mean - h[i] * correlation) }
      }
      #expect(
        Array(dx[(r * stride)..<(r * stride + width)]).map(\.bitPattern) == v.map(\.bitPattern))
      #expect(dx[(r * stride + width)..<((r + 1) * stride)].allSatisfy { $0 == 9 })
    }
    #expect(gradient.map(\.bitPattern) == expectedGradient.map(\.bitPattern))
  }
}
