import Foundation
import NodeCore
import Testing

@Suite struct SafetensorsTests {
  let weights = Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6.5])
  let bias = Tensor<Float>(shape: [2], scalars: [-1, 0.25])

  @Test func roundTrip() throws {
    let data = try SafetensorsWriter.encode(["w": weights, "b": bias], metadata: ["format": "pt"])
    // The header is padded to a multiple of 8 bytes, so the tensors are aligned.
    #expect(data.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) } % 8 == 0)
    let file = try SafetensorsFile(bytes: data)
    #expect(file.tensorNames == ["b", "w"])
    #expect(file.metadata == ["format": "pt"])
    #expect(try file.tensor("w", as: Float.self) == weights)
    #expect(try file.tensor("b", as: Double.self) == bias.converted(to: Double.self))
    #expect(file.entries["w"]?.dtype == "F32")
  }

  @Test func writesToDiskAndReadsBack() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "st-\(UUID()).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    let doubles = weights.converted(to: Double.self)
    try SafetensorsWriter.write(["x": doubles], to: url)
    let file = try SafetensorsFile(contentsOf: url)
    #expect(file.entries["x"]?.dtype == "F64")
    #expect(try file.tensor("x", as: Double.self) == doubles)
  }

  /// Builds a file from a header string and raw data bytes.
  func file(header: String, data: [UInt8]) -> Data {
    var bytes = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: Array(header.utf8))
    bytes.append(contentsOf: data)
    return bytes
  }

  @Test func halfPrecisionDTypes() throws {
    // 1.0, -2.0, 0.5 in binary16; 1.0 and 3.0 in bfloat16.
    let half: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38]
    let bfloat: [UInt8] = [0x80, 0x3F, 0x40, 0x40]
    let data = file(
      header:
        #"{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}}"#,
      data: half + bfloat)
    let parsed = try SafetensorsFile(bytes: data)
    #expect(try parsed.tensor("h", as: Float.self).scalars == [1, -2, 0.5])
    #expect(try parsed.tensor("b", as: Float.self).scalars == [1, 3])
  }

  @Test func badFilesAreRefusedWithReasons() throws {
    let cases: [(Data, String)] = [
      (Data([1, 2, 3]), "truncated"),
      (file(header: "not json", data: []), "not valid JSON"),
      (file(header: "[1]", data: []), "not a JSON object"),
      (
        file(header: #"{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, data: [0]),
        "dtype I8"
      ),
      (
        file(
          header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
        "needs 8 bytes"
      ),
      (
        file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0]),
        "has 2 data bytes"
      ),
      (
        file(header: #"{"a":{"dtype":"F32","shape":[1]}}"#, data: []),
        "needs dtype, shape and data_offsets"
      ),
      // A forged shape whose size overflows.
      (
        file(
          header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#,
          data: [0, 0, 0, 0]),
        "is too large"
      ),
    ]
    for (bytes, message) in cases {
      let error = #expect(throws: SafetensorsError.self) {
        try SafetensorsFile(bytes: bytes, source: "x")
      }
      #expect(
        error?.description.contains(message) == true, "\(String(describing: error)) vs \(message)")
    }
    var truncatedHeader = Data()
    withUnsafeBytes(of: UInt64(100).littleEndian) { truncatedHeader.append(contentsOf: $0) }
    #expect(throws: SafetensorsError.truncated(source: "x", needed: 108, available: 8)) {
      try SafetensorsFile(bytes: truncatedHeader, source: "x")
    }
  }

  @Test func missingTensorsAndShapesAreNamed() throws {
    let parsed = try SafetensorsFile(
      bytes: SafetensorsWriter.encode(["w": weights]), source: "m.st")
    let missing = #expect(throws: SafetensorsError.self) { try parsed.tensor("v", as: Float.self) }
    #expect(missing?.description == "m.st: no tensor named 'v'; the file holds w")
    let shape = #expect(throws: SafetensorsError.self) {
      try parsed.tensor("w", as: Float.self, expectedShape: [3, 2])
    }
    #expect(shape?.description == "m.st: tensor 'w' has shape [2, 3], expected [3, 2]")
  }

  @Test func unreadablePath() {
    let error = #expect(throws: SafetensorsError.self) {
      try SafetensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/w.safetensors"))
    }
    #expect(
      error?.description.hasPrefix("cannot read safetensors file /nonexistent/w.safetensors")
        == true)
    let directory = FileManager.default.temporaryDirectory
    let refused = #expect(throws: SafetensorsError.self) {
      try SafetensorsFile(contentsOf: directory)
    }
    #expect(refused?.description.contains("it is a directory") == true, "\(refused!)")
  }
}
