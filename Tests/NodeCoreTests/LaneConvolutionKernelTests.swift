import Foundation
import NodeCore
import Testing

/// The lane-layout convolutions (`lane_conv.c`): a sample's values do not
/// depend on its lane or its group-mates; on any geometry they are the direct
/// sums, forward, transposed and weight gradient; and the transposes into
/// and out of the lane layout are exact.
@Suite(.enabled(if: LaneConvolutionKernels.run(for: Float.self)))
struct LaneConvolutionKernelTests {
  /// `rows` rows of `width` values, rows `stride` apart, from a fixed pattern.
  static func rows(_ count: Int, width: Int, stride: Int, phase: Double) -> [Float] {
    (0..<(count * stride)).map { i in
      i % stride < width ? Float(sin(Double(i) * 0.61 + phase)) : .nan
    }
  }

  /// Each lane's sums are its own: a sample's outputs are bitwise the same
  /// whatever the other fifteen lanes hold and whichever lane it takes, over
  /// output counts under one tile, of whole tiles and with a remainder joined
  /// to the last tile.
  @Test(arguments: [
    // (channels, outputs, side, kernel, stride, padding)
    (3, 5, 6, 3, 1, 1), (65, 64, 6, 3, 1, 1), (64, 65, 6, 3, 1, 1), (4, 13, 9, 4, 2, 1),
  ])
  func aSampleIsTheSameInAnyLane(shape: (Int, Int, Int, Int, Int, Int)) {
    let (channels, outputs, side, k, stride, padding) = shape
    let map = ConvolutionLaneMap(
      input: (side, side), kernel: (k, k), stride: stride, padding: padding)
    let (width, outWidth) = (channels * map.inputPixels, outputs * map.outputPixels)
    let weight = (0..<(outputs * map.taps * channels)).map { Float(cos(Double($0) * 0.29)) }
    /// Each sample's outputs when the group holds the samples `order` in lanes 0, 1, ….
    func samples(_ order: [Int]) -> [Int: [UInt32]] {
      let x = Self.rows(32, width: width, stride: width, phase: 0.3)
      var lanes = [Float](repeating: .nan, count: width * 16)
      var rows = [Float]()
      for i in order { rows += x[(i * width)..<((i + 1) * width)] }
      rows.withUnsafeBufferPointer { rp in
        lanes.withUnsafeMutableBufferPointer {
          LaneConvolutionKernels.toLanes(
            MatrixView(base: rp.baseAddress!, rows: order.count, columns: width), width: width,
            into: $0.baseAddress!)
        }
      }
      var out = [Float](repeating: .nan, count: outWidth * 16)
      LaneConvolutionKernels.convolve(
        map, lanes: lanes, groups: 1, channels: channels, tapMajorWeight: weight,
        outputs: outputs, into: &out)
      var result: [Int: [UInt32]] = [:]
      for (lane, i) in order.enumerated() {
        result[i] = (0..<outWidth).map { out[$0 * 16 + lane].bitPattern }
      }
      return result
    }
    let first = samples(Array(0..<16))
    let reversed = samples(Array((0..<16).reversed()))
    let alone = samples([7])
    let mixed = samples([7] + Array(16..<31))
    for i in 0..<16 { #expect(first[i] == reversed[i], "\(shape): sample \(i) reversed") }
    #expect(alone[7] == first[7] && mixed[7] == first[7], "\(shape): sample 7 alone, mixed")
  }

  /// The forward product, the input cotangents (through the transposed map
  /// and the kernel turned round) and the weight and bias gradients against
  /// direct sums in `Double`, for strided, unpadded, padded and non-square
  /// geometries, tiles that leave remainders of outputs and channels, and
  /// several groups; the gradients add to what they held.
  @Test(arguments: [
    // (channels, outputs, height, width, kernel height, kernel width, stride, padding, groups)
    (65, 64, 6, 6, 3, 3, 1, 1, 2), (3, 5, 13, 13, 4, 4, 2, 1, 1), (6, 7, 5, 4, 3, 3, 1, 0, 3),
    (2, 9, 9, 7, 2, 3, 2, 2, 1), (1, 4, 8, 8, 3, 3, 1, 0, 1),
  ])
  func matchesTheDirectSums(shape: (Int, Int, Int, Int, Int, Int, Int, Int, Int)) {
    let (channels, outputs, h, w, kh, kw, stride, padding, groups) = shape
    let map = ConvolutionLaneMap(
      input: (h, w), kernel: (kh, kw), stride: stride, padding: padding)
    let (outH, outW) = ((h + 2 * padding - kh) / stride + 1, (w + 2 * padding - kw) / stride + 1)
    let (inPixels, outPixels, taps) = (h * w, outH * outW, kh * kw)
    #expect(map.outputPixels == outPixels && map.inputPixels == inPixels && map.taps == taps)
    let x = (0..<(groups * channels * inPixels * 16)).map { Float(sin(Double($0) * 0.61)) }
    let dy = (0..<(groups * outputs * outPixels * 16)).map { Float(cos(Double($0) * 0.37)) }
    // PyTorch's weight [O, C, kh, kw], and its tap-major forms.
    let weight = (0..<(outputs * channels * taps)).map { Float(cos(Double($0) * 0.29) * 0.5) }
    var tapMajor = [Float](repeating: 0, count: weight.count)
    var turned = [Float](repeating: 0, count: weight.count)
    for o in 0..<outputs {
      for c in 0..<channels {
        for t in 0..<taps {
          let value = weight[(o * channels + c) * taps + t]
          tapMajor[(o * taps + t) * channels + c] = value
          turned[(c * taps + taps - 1 - t) * outputs + o] = value
        }
      }
    }
    var y = [Float](repeating: .nan, count: groups * outputs * outPixels * 16)
    var dx = [Float](repeating: .nan, count: groups * channels * inPixels * 16)
    var dw = [Float](repeating: 1, count: weight.count)
    var db = [Float](repeating: -1, count: outputs)
    LaneConvolutionKernels.convolve(
      map, lanes: x, groups: groups, channels: channels, tapMajorWeight: tapMajor,
      outputs: outputs, into: &y)
    LaneConvolutionKernels.convolve(
      map.transposedMap!, lanes: dy, groups: groups, channels: outputs, tapMajorWeight: turned,
      outputs: channels, into: &dx)
    LaneConvolutionKernels.accumulateWeightGradient(
      map, lanes: x, cotangentLanes: dy, groups: groups, channels: channels, outputs: outputs,
      into: &dw, biasGradient: &db)
    // The direct sums, accumulated with their magnitudes for a relative error.
    var expectedY = [(Double, Double)](repeating: (0, 0), count: y.count)
    var expectedDx = [(Double, Double)](repeating: (0, 0), count: dx.count)
    var expectedDw = [(Double, Double)](repeating: (1, 1), count: dw.count)
    var expectedDb = [(Double, Double)](repeating: (-1, 1), count: db.count)
    func add(_ sums: inout [(Double, Double)], _ i: Int, _ term: Double) {
      sums[i] = (sums[i].0 + term, sums[i].1 + abs(term))
    }
    for g in 0..<groups {
      for o in 0..<outputs {
        for q in 0..<outPixels {
          for lane in 0..<16 {
            let yi = ((g * outputs + o) * outPixels + q) * 16 + lane
            add(&expectedDb, o, Double(dy[yi]))
            for c in 0..<channels {
              for t in 0..<taps {
                let row = (q / outW) * stride + t / kw - padding
                let column = (q % outW) * stride + t % kw - padding
                guard row >= 0 && row < h && column >= 0 && column < w else { continue }
                let xi = ((g * channels + c) * inPixels + row * w + column) * 16 + lane
                let wv = Double(weight[(o * channels + c) * taps + t])
                add(&expectedY, yi, wv * Double(x[xi]))
                add(&expectedDx, xi, wv * Double(dy[yi]))
                add(&expectedDw, (o * channels + c) * taps + t, Double(dy[yi]) * Double(x[xi]))
              }
            }
          }
        }
      }
    }
    func worst(_ got: [Float], _ expected: [(Double, Double)]) -> Double {
      zip(got, expected).map { abs(Double($0) - $1.0) / max($1.1, 1e-30) }.max() ?? 0
    }
    #expect(worst(y, expectedY) < 1e-6, "\(shape): outputs")
    #expect(worst(dx, expectedDx) < 1e-6, "\(shape): input cotangents")
    #expect(worst(dw, expectedDw) < 1e-6, "\(shape): weight gradient")
    #expect(worst(db, expectedDb) < 1e-6, "\(shape): bias gradient")
  }

  /// A 3 × 3 kernel on a 6 × 6 map reads 256 of its 324 pixel-taps, and a
  /// 4 × 4 stride-2 kernel on 26 × 26 (padding 1) 50² of 52²; the transpose
  /// has the same terms.
  @Test func mapsCountTheTapsInside() {
    let same = ConvolutionLaneMap(input: (6, 6), kernel: (3, 3), stride: 1, padding: 1)
    let strided = ConvolutionLaneMap(input: (26, 26), kernel: (4, 4), stride: 2, padding: 1)
    #expect(same.terms == 256 && same.transposedMap?.terms == 256)
    #expect(strided.outputPixels == 169 && strided.terms == 2500)
    #expect(strided.transposedMap?.terms == 2500 && strided.transposedMap?.transposedMap == nil)
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
        LaneConvolutionKernels.toLanes(
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
            LaneConvolutionKernels.fromLanes(
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
}
