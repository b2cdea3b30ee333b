import Foundation
import Testing

@testable import NodeData

/// The sampler: chunk ownership covers every chunk once, epochs visit every
/// sample, evaluation ranges cover every index once, bad settings are errors.
@Suite struct DistributedSamplerTests {
  @Test func chunksArePartitionedOverAnyRankCount() {
    for ranks in 1...8 {
      let owned = (0..<ranks).map {
        DistributedSampler.chunks(ownedBy: $0, of: ranks, chunkCount: 8)
      }
      #expect(owned.flatMap { Array($0) } == Array(0..<8), "\(ranks) ranks")
      for count in [0, 1, 7, 10_000] {
        let ranges = (0..<ranks).map {
          DistributedSampler.evaluationRange(count: count, rank: $0, of: ranks)
        }
        #expect(ranges.flatMap { Array($0) } == Array(0..<count))
        #expect((ranges.map(\.count).max() ?? 0) - (ranges.map(\.count).min() ?? 0) <= 1)
      }
    }
  }

  @Test func dropAndPadRemainders() throws {
    let drop = try DistributedSampler(datasetSize: 10, globalBatch: 4, chunkCount: 2, seed: 1)
    #expect(drop.stepsPerEpoch == 2)
    let order = drop.order(epoch: 0)
    #expect(Set(order) == Set(0..<10))
    let steps = (0..<2).map { drop.batch(stepInEpoch: $0, order: order) }
    #expect(Set(steps.flatMap { $0 }).count == 8)
    #expect(Array(drop.chunk(1, of: steps[0])) == Array(steps[0][2..<4]))
    #expect(drop.position(ofStep: 5) == (2, 1))
    #expect(drop.order(epoch: 1) != order)
    let pad = try DistributedSampler(
      datasetSize: 10, globalBatch: 4, chunkCount: 2, seed: 1, remainder: .pad)
    #expect(pad.stepsPerEpoch == 3)
    let last = pad.batch(stepInEpoch: 2, order: order)
    #expect(last == [order[8], order[9], order[0], order[1]])
  }

  @Test func badSettingsNameTheValue() {
    #expect(throws: DataError.self) {
      try DistributedSampler(datasetSize: 10, globalBatch: 4, chunkCount: 3, seed: 0)
    }
    #expect(throws: DataError.self) {
      try DistributedSampler(datasetSize: 3, globalBatch: 4, chunkCount: 2, seed: 0)
    }
  }

  @Test func pointsFilesReadCSVAndNpy() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "node-dist-points-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let csv = directory.appendingPathComponent("p.csv")
    try "x,y\n1, 2\n-0.5 3e-1  # comment\n\n".write(to: csv, atomically: true, encoding: .utf8)
    #expect(try PointsFile.read(csv.path, dimension: 2) == [[1, 2], [-0.5, 0.3]])
    #expect(throws: DataError.self) { try PointsFile.read(csv.path, dimension: 3) }
    // Windows line endings.
    try "1,2\r\n3,4\r\n".write(to: csv, atomically: true, encoding: .utf8)
    #expect(try PointsFile.read(csv.path, dimension: 2) == [[1, 2], [3, 4]])
    // Values with no density, named by their line.
    for text in ["nan", "inf", "-1e300"] {
      try "x,y\n1,2\n3,\(text)\n".write(to: csv, atomically: true, encoding: .utf8)
      let error = #expect(throws: DataError.self) { try PointsFile.read(csv.path, dimension: 2) }
      let message = error.map { "\($0)" } ?? ""
      #expect(
        message.contains("line 3 has a value that is not a finite 32-bit float"), "\(message)")
    }
    // A (2, 2) float32 .npy written by hand: magic, version 1.0, header, data.
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"
    header += String(repeating: " ", count: (64 - (10 + header.count + 1) % 64) % 64) + "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    bytes += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
    for value: Float in [1, -2, 0.25, 4] {
      withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }
    let npy = directory.appendingPathComponent("p.npy")
    try Data(bytes).write(to: npy)
    #expect(try PointsFile.read(npy.path, dimension: 2) == [[1, -2], [0.25, 4]])
    var infinite = bytes
    withUnsafeBytes(of: Float.infinity.bitPattern.littleEndian) {
      infinite.replaceSubrange((bytes.count - 8)..<(bytes.count - 4), with: $0)
    }
    try Data(infinite).write(to: npy)
    let error = #expect(throws: DataError.self) { try PointsFile.read(npy.path, dimension: 2) }
    let message = error.map { "\($0)" } ?? ""
    #expect(message.contains("point 2 has a coordinate that is not a finite"), "\(message)")
    try Data(bytes.prefix(bytes.count - 4)).write(to: npy)
    #expect(throws: DataError.self) { try PointsFile.read(npy.path, dimension: 2) }
  }
}
