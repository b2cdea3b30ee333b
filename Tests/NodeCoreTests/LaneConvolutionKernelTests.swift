import Foundation
import NodeCore
import Testing

/// The lane-layout same-size convolution (`lane_conv.c`): bitwise the strip
/// kernel's values, over kernels of 1 to 7 taps a side, output counts under
/// one tile, with a remainder joined to the last tile and of whole tiles, and
/// several groups; and the transposes into and out of the lane layout.
@Suite(.enabled(if: SameSizeColumnKernels.convolvesImplicitly(for: Float.self)))
struct LaneConvolutionKernelTests {
  /// `rows` rows of `width` values, rows `stride` apart, from a fixed pattern.
  static func rows(_ count: Int, width: Int, stride: Int, phase: Double) -> [Float] {
    (0..<(count * stride)).map { i in
      i % stride < width ? Float(sin(Double(i) * 0.61 + phase)) : .nan
    }
  }

  @Test(arguments: [
    // (channels, outputs, side, padding, groups)
    (3, 8, 6, 1, 1), (65, 64, 6, 1, 2), (64, 65, 6, 1, 1), (2, 5, 7, 2, 3), (4, 13, 4, 0, 1),
    (2, 23, 9, 3, 2),
  ])
  func matchesTheStripKernelBitwise(shape: (Int, Int, Int, Int, Int)) {
    let (channels, outputs, side, p, groups) = shape
    let table = SameSizeTapTable(height: side, width: side, padding: p)
    let (pixels, taps) = (table.pixels, table.taps)
    let samples = 16 * groups
    let width = channels * pixels
    // Sample rows [channels, pixels], then the strip kernel's planes side by side.
    let x = Self.rows(samples, width: width, stride: width, phase: 0.3)
    var planes = [Float](repeating: 0, count: channels * samples * pixels)
    for s in 0..<samples {
      for c in 0..<channels {
        for q in 0..<pixels {
          planes[c * samples * pixels + s * pixels + q] = x[s * width + c * pixels + q]
        }
      }
    }
    let weight = (0..<(outputs * taps * channels)).map { Float(cos(Double($0) * 0.29) * 0.5) }
    let strips = ImplicitConvolutionKernelTests.convolve(
      table, planes: planes, samples: samples, channels: channels, weight: weight,
      outputs: outputs)
    var lanes = [Float](repeating: .nan, count: groups * width * 16)
    var out = [Float](repeating: .nan, count: groups * outputs * pixels * 16)
    x.withUnsafeBufferPointer { xp in
      lanes.withUnsafeMutableBufferPointer { lp in
        for g in 0..<groups {
          SameSizeColumnKernels.toLanes(
            MatrixView(base: xp.baseAddress! + g * 16 * width, rows: 16, columns: width),
            width: width, into: lp.baseAddress! + g * width * 16)
        }
      }
    }
    lanes.withUnsafeBufferPointer { lp in
      out.withUnsafeMutableBufferPointer { op in
        SameSizeColumnKernels.convolve(
          table, lanes: lp.baseAddress!, groups: groups, channels: channels,
          tapMajorWeight: weight, outputs: outputs, into: op.baseAddress!)
      }
    }
    var differing = 0
    for g in 0..<groups {
      for o in 0..<outputs {
        for q in 0..<pixels {
          for i in 0..<16 {
            let lane = out[((g * outputs + o) * pixels + q) * 16 + i]
            let strip = strips.out[o * strips.ld + (g * 16 + i) * pixels + q]
            if lane.bitPattern != strip.bitPattern { differing += 1 }
          }
        }
      }
    }
    #expect(differing == 0, "\(shape): \(differing) values differ")
  }

  /// The weight and bias gradients against the direct sum in `Double`, over
  /// tiles that leave remainders of outputs and channels, several groups,
  /// and kernels of 1 to 7 taps a side; they add to what the gradient held.
  @Test(arguments: [
    // (channels, outputs, side, padding, groups)
    (65, 64, 6, 1, 2), (3, 5, 7, 2, 1), (6, 7, 4, 0, 3), (2, 3, 9, 3, 1),
  ])
  func weightGradientMatchesTheDirectSum(shape: (Int, Int, Int, Int, Int)) {
    let (channels, outputs, side, p, groups) = shape
    let table = SameSizeTapTable(height: side, width: side, padding: p)
    let (pixels, taps, kernel) = (table.pixels, table.taps, 2 * p + 1)
    let x = (0..<(groups * channels * pixels * 16)).map { Float(sin(Double($0) * 0.61)) }
    let dy = (0..<(groups * outputs * pixels * 16)).map { Float(cos(Double($0) * 0.37)) }
    var dw = [Float](repeating: 1, count: outputs * channels * taps)
    var db = [Float](repeating: -1, count: outputs)
    SameSizeColumnKernels.accumulateWeightGradient(
      table, lanes: x, cotangentLanes: dy, groups: groups, channels: channels, outputs: outputs,
      into: &dw, biasGradient: &db)
    var worst = 0.0
    for o in 0..<outputs {
      var bias = -1.0
      var biasMagnitude = 1.0
      for c in 0..<channels {
        for t in 0..<taps {
          var (sum, magnitude) = (1.0, 1.0)
          for g in 0..<groups {
            for q in 0..<pixels {
              let (y, xx) = (q / side + t / kernel - p, q % side + t % kernel - p)
              guard y >= 0 && y < side && xx >= 0 && xx < side else { continue }
              for i in 0..<16 {
                let term =
                  Double(dy[((g * outputs + o) * pixels + q) * 16 + i])
                  * Double(x[((g * channels + c) * pixels + y * side + xx) * 16 + i])
                sum += term
                magnitude += abs(term)
              }
            }
          }
          let got = Double(dw[(o * channels + c) * taps + t])
          worst = max(worst, abs(got - sum) / magnitude)
        }
      }
      for g in 0..<groups {
        for v in 0..<(pixels * 16) {
          let d = Double(dy[(g * outputs + o) * pixels * 16 + v])
          bias += d
          biasMagnitude += abs(d)
        }
      }
      worst = max(worst, abs(Double(db[o]) - bias) / biasMagnitude)
    }
    #expect(worst < 1e-6, "\(shape): relative error \(worst)")
  }

  /// Rows into lanes and back, for fewer than 16 rows, widths off a multiple
  /// of 16 and strided rows, with and without a row added: the lanes past
  /// the rows hold +0 and the round trip is exact.
  @Test(arguments: [(16, 37, 40), (5, 16, 16), (1, 3, 7), (13, 50, 64)])
  func lanesRoundTrip(shape: (Int, Int, Int)) {
    let (count, width, stride) = shape
    let x = Self.rows(count, width: width, stride: stride, phase: 1.1)
    var lanes = [Float](repeating: .nan, count: width * 16)
    x.withUnsafeBufferPointer { xp in
      lanes.withUnsafeMutableBufferPointer {
        SameSizeColumnKernels.toLanes(
          MatrixView(base: xp.baseAddress!, rows: count, columns: width, rowStride: stride),
          width: width, into: $0.baseAddress!)
      }
    }
    for j in 0..<width {
      for i in 0..<16 {
        let expected = i < count ? x[i * stride + j] : 0
        #expect(lanes[j * 16 + i].bitPattern == expected.bitPattern, "\(shape): \(j), \(i)")
      }
    }
    let add = (0..<width).map { Float($0) * 0.25 }
    for adding in [false, true] {
      var back = [Float](repeating: -7, count: count * stride)
      lanes.withUnsafeBufferPointer { lp in
        add.withUnsafeBufferPointer { ap in
          back.withUnsafeMutableBufferPointer { bp in
            SameSizeColumnKernels.fromLanes(
              lp.baseAddress!, width: width, adding: adding ? ap.baseAddress! : nil,
              into: MutableMatrixView(
                base: bp.baseAddress!, rows: count, columns: width, rowStride: stride))
          }
        }
      }
      for i in 0..<count {
        for j in 0..<stride {
          let expected: Float = j < width ? x[i * stride + j] + (adding ? add[j] : 0) : -7
          #expect(back[i * stride + j] == expected, "\(shape), adding \(adding): \(i), \(j)")
        }
      }
    }
  }

  /// A group pays off in lanes once its samples' strips cost more taps than
  /// its pixels' inside taps: on a 6 × 6 map with a 3 × 3 kernel (256 inside
  /// taps; a sample fills 2.25 strips of 9 taps), from 13 samples on.
  @Test func lanesPayOffFromThirteenSamplesOnASixBySixMap() {
    let table = SameSizeTapTable(height: 6, width: 6, padding: 1)
    #expect(table.insideTaps == 256)
    #expect(!SameSizeColumnKernels.lanesPayOff(table, samples: 12))
    #expect(SameSizeColumnKernels.lanesPayOff(table, samples: 13))
  }
}
