import Foundation
import NodeCore
import Testing

/// The implicit same-size convolution (`implicit_conv.c`) against the direct
/// sum in `Double`, over square kernels of 1, 3, 5 and 7 taps a side, output
/// counts that leave a partial tile of rows, and blocks whose pixels leave a
/// partial strip; and a non-finite pixel stays in its own sample.
@Suite(.enabled(if: SameSizeColumnKernels.convolvesImplicitly(for: Float.self)))
struct ImplicitConvolutionKernelTests {
  /// The kernel's output `[outputs, ld]` for `samples` planes side by side
  /// (with `margin` floats before and after, as callers allocate them).
  static func convolve(
    _ table: SameSizeTapTable, planes: [Float], samples: Int, channels: Int, weight: [Float],
    outputs: Int
  ) -> (out: [Float], ld: Int) {
    let used = samples * table.pixels
    let ld = (used + 15) & ~15
    let margin = 64
    var padded = [Float](repeating: 0, count: channels * used + 2 * margin)
    for i in 0..<(channels * used) { padded[margin + i] = planes[i] }
    var out = [Float](repeating: .nan, count: outputs * ld)
    padded.withUnsafeBufferPointer { x in
      out.withUnsafeMutableBufferPointer { o in
        SameSizeColumnKernels.convolve(
          table, planes: x.baseAddress! + margin, planeStride: used, samples: samples,
          channels: channels, tapMajorWeight: weight, outputs: outputs, into: o.baseAddress!,
          rowStride: ld)
      }
    }
    return (out, ld)
  }

  @Test(arguments: [
    // (channels, outputs, side, padding, samples)
    (3, 8, 6, 1, 5), (65, 13, 6, 1, 3), (2, 5, 7, 2, 2), (4, 3, 4, 0, 9), (1, 1, 2, 1, 1),
    (2, 9, 12, 3, 8),  // a 7 × 7 kernel (the most taps) over 72 strips (past a chunk of 64)
  ])
  func matchesTheDirectSum(shape: (Int, Int, Int, Int, Int)) {
    let (channels, outputs, side, p, samples) = shape
    let table = SameSizeTapTable(height: side, width: side, padding: p)
    let (pixels, taps, kernel) = (table.pixels, table.taps, 2 * p + 1)
    let used = samples * pixels
    let planes = (0..<(channels * used)).map { Float(sin(Double($0) * 0.61)) }
    // The weight [O, taps, C] as the kernel reads it.
    let weight = (0..<(outputs * taps * channels)).map { Float(cos(Double($0) * 0.29) * 0.5) }
    let (out, ld) = Self.convolve(
      table, planes: planes, samples: samples, channels: channels, weight: weight,
      outputs: outputs)
    var worst = 0.0
    for o in 0..<outputs {
      for s in 0..<samples {
        for q in 0..<pixels {
          let (i, j) = (q / side, q % side)
          var sum = 0.0
          var magnitude = 0.0
          for t in 0..<taps {
            let (y, x) = (i + t / kernel - p, j + t % kernel - p)
            guard y >= 0 && y < side && x >= 0 && x < side else { continue }
            for c in 0..<channels {
              let term =
                Double(weight[(o * taps + t) * channels + c])
                * Double(planes[c * used + s * pixels + y * side + x])
              sum += term
              magnitude += abs(term)
            }
          }
          let got = Double(out[o * ld + s * pixels + q])
          worst = max(worst, abs(got - sum) / max(magnitude, 1e-30))
        }
      }
      // The pixels past the block's, up to the strip's end, are written as 0.
      for p in used..<ld { #expect(out[o * ld + p] == 0, "\(shape): padding \(o), \(p)") }
    }
    #expect(worst < 1e-6, "\(shape): relative error \(worst)")
  }

  /// A NaN in one sample's plane reaches that sample's outputs only: the taps
  /// of its neighbours that would cross into it read nothing.
  @Test func aNonFinitePixelStaysInItsSample() {
    let table = SameSizeTapTable(height: 6, width: 6, padding: 1)
    let (channels, outputs, samples) = (4, 9, 5)
    let used = samples * table.pixels
    var planes = (0..<(channels * used)).map { Float(sin(Double($0) * 0.61)) }
    let weight = (0..<(outputs * table.taps * channels)).map { Float(cos(Double($0) * 0.29)) }
    let clean = Self.convolve(
      table, planes: planes, samples: samples, channels: channels, weight: weight,
      outputs: outputs)
    // Sample 2's first and last pixels of channel 1: next to samples 1 and 3.
    planes[used + 2 * table.pixels] = .nan
    planes[used + 3 * table.pixels - 1] = .infinity
    let dirty = Self.convolve(
      table, planes: planes, samples: samples, channels: channels, weight: weight,
      outputs: outputs)
    for o in 0..<outputs {
      for s in 0..<samples {
        let range = (o * clean.ld + s * table.pixels)..<(o * clean.ld + (s + 1) * table.pixels)
        if s == 2 {
          #expect(dirty.out[range].contains { !$0.isFinite }, "sample 2, output \(o)")
        } else {
          #expect(Array(dirty.out[range]) == Array(clean.out[range]), "sample \(s), output \(o)")
        }
      }
    }
  }
}
