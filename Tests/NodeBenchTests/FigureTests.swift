import CZlib
import Foundation
import NodeCore
import Testing

@testable import NodeBench

@Suite struct FigureTests {
  /// The PNG's chunks have the right lengths and CRCs, and IDAT inflates to
  /// the filtered rows of the pixels.
  @Test func pngEncodesItsPixels() throws {
    var image = PNGImage(width: 3, height: 2)
    image.set(x: 0, y: 0, (255, 0, 0))
    image.set(x: 2, y: 1, (1, 2, 3))
    let bytes = image.encoded()
    #expect(Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    var offset = 8
    var chunks: [(String, [UInt8])] = []
    func word(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
    while offset < bytes.count {
      let length = word(offset)
      let body = Array(bytes[(offset + 4)..<(offset + 8 + length)])
      let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
      #expect(Int(crc) == word(offset + 8 + length))
      chunks.append((String(decoding: body[0..<4], as: UTF8.self), Array(body[4...])))
      offset += 12 + length
    }
    #expect(chunks.map(\.0) == ["IHDR", "IDAT", "IEND"])
    #expect(chunks[0].1 == [0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0])
    var raw = [UInt8](repeating: 0, count: 64)
    var length = uLong(raw.count)
    #expect(uncompress(&raw, &length, chunks[1].1, uLong(chunks[1].1.count)) == Z_OK)
    let row0: [UInt8] = [0, 255, 0, 0, 255, 255, 255, 255, 255, 255]
    let row1: [UInt8] = [0, 255, 255, 255, 255, 255, 255, 1, 2, 3]
    #expect(Array(raw[0..<Int(length)]) == row0 + row1)
  }

  /// Row 0 of a panel is the top of the box; histograms count points in their cells.
  @Test func densityFigureLaysOutItsGrid() {
    var figure = DensityFigure(low: -2, high: 2, resolution: 4)
    let centres: Tensor<Double> = figure.cellCentres()
    #expect(Array(centres.scalars[0..<2]) == [-1.5, 1.5])
    #expect(Array(centres.scalars[30..<32]) == [1.5, -1.5])
    let points = Tensor<Double>(shape: [3, 2], scalars: [-1.9, 1.9, 0.5, -0.5, 9, 9])
    figure.addHistogram("points", points: points)
    var expected = [Double](repeating: 0, count: 16)
    expected[0] = 1  // top-left cell
    expected[2 * 4 + 2] = 1  // just right of and below the centre
    #expect(figure.panels[0].values == expected)
    figure.addDensity("flat", logDensities: [Double](repeating: 0, count: 16))
    let image = figure.image(pixelsPerCell: 3)
    #expect(image.width == 2 * 12 + 3 * 8 && image.height == 12 + 16)
    #expect(DensityFigure.viridis(0) == (68, 1, 84) && DensityFigure.viridis(1) == (253, 231, 37))
  }

  /// The learning curve starts with the held-out NLL of the starting weights
  /// and records every interval; the figure has data, samples and density.
  @Test func moonsExperimentRecordsItsCurve() throws {
    let url = try #require(W1Workload.bundledInitialWeightsURL)
    let experiment = try MoonsExperiment(weights: url, heldOutSamples: 64)
    let start = try HeldOutLikelihood.evaluate(
      experiment.workload.field, samples: 64, tolerance: 1e-5)
    let curve = try experiment.train(iterations: 1, evaluateEvery: 1)
    #expect(curve.map(\.iteration) == [0, 1])
    #expect(curve[0].heldOut.nll == start.nll && curve[0].trainingLoss == nil)
    #expect(curve[1].trainingLoss != nil && (curve[1].forwardEvaluations ?? 0) > 0)
    #expect(curve[1].heldOut.nll != start.nll)
    let figure = try experiment.figure(samples: 200, resolution: 6)
    #expect(figure.panels.map(\.title) == ["data", "samples", "density"])
    #expect(figure.panels[1].values.reduce(0, +) > 150)  // most samples fall in [−4, 4]²
    #expect(throws: ExperimentError.self) {
      _ = try experiment.train(iterations: 1, evaluateEvery: 0)
    }
  }
}
