"""Test-framework glue: the pytest plugin (`plugin`, its knobs in `knobs`), trial
base classes (`trial`, re-exported as `lab.testcases`), sessions sharing one lab
(`leases`), ports reserved across processes (`ports`) and a second lab beside the
default one (`side_by_side`). The top of the library: it may import anything below
it, and only `lab.cli` stands above.
"""
