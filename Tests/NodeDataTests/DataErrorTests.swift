import NodeData
import Testing

@Suite struct DataErrorTests {
  @Test func descriptionsNameTheCulprit() {
    #expect(
      DataError.invalidFile(path: "/x/y.idx", reason: "magic number 2049, expected 2051")
        .description
        == "/x/y.idx: magic number 2049, expected 2051")
    #expect(
      DataError.invalidOption(name: "noise", value: "-1", allowed: "≥ 0").description
        == "invalid noise = -1; allowed: ≥ 0")
  }
}
