"""The PAR Index scoring pipeline: criteria trees as data, an assessment year of scorecards,
self-assessment with evidence, the appraisal council's adjustments, survey criteria filled
from the product's own indices, and the results (totals, index, ranking, classification).

It sits between analytics (whose indices it reads) and handlers (whose staff chat shows it),
and keeps its rows in storage (`storage.par`) through storage's functions only.
"""
