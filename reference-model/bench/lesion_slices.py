"""How often a study-level model's evenly spread training slices miss every lesion of a
COVID-19 study (the measurement behind `train::sample::slices`).

    python3 reference-model/bench/lesion_slices.py data/train

Needs nibabel and numpy. For each COVID-19 study of the folder (`dataset synth` layout):
the lungs' slice range grown by 2 slices, the slices on which the raters' mean lesion mask
covers at least half a working pixel (4 mm), and, over every offset of the spread, the
share of draws of 8 and 16 evenly spread slices that show no such slice. Printed for
minimal involvement (under 0.5% of both lungs) and the rest.
"""
import csv
import os
import sys

import nibabel as nib
import numpy as np

d = sys.argv[1]
SP = 4.0  # the working grid's pixel, mm (zoo::SPACING_MM)
rows=list(csv.DictReader(open(f'{d}/annotations/labels.csv')))
res=[]
for r in rows:
    if r['category']!='covid': continue
    i=r['study_id']
    lung=nib.load(f'{d}/annotations/lungs/{i}.nii.gz')
    L=np.asanyarray(lung.dataobj)>0
    zs=np.where(L.any(axis=(0,1)))[0]; z0,z1=max(zs[0]-2,0),min(zs[-1]+3,L.shape[2])
    ld=f'{d}/annotations/lesions/{i}'
    if not os.path.isdir(ld): continue
    ms=[np.asanyarray(nib.load(f'{ld}/{f}').dataobj)>0 for f in sorted(os.listdir(ld))]
    m=np.mean(ms,axis=0)
    px=lung.header.get_zooms()[:2]; ratio=px[0]*px[1]/SP/SP
    per=m.sum(axis=(0,1))*ratio
    les=set(np.where(per>=0.5)[0])
    frac=m.sum()/L.sum()
    out=[]
    for n in (8,16):
        stride=-(-(z1-z0)//n)
        miss=np.mean([not any(k in les for k in range(z0+o,z1,stride)) for o in range(stride)])
        out.append(miss)
    res.append((frac,len(les),*out))
res=np.array(res)
print('covid studies',len(res))
for lo,hi in [(0,0.005),(0.005,1)]:
    s=res[(res[:,0]>=lo)&(res[:,0]<hi)]
    print(f'lesion share {lo}-{hi}: n={len(s)}, lesion slices median {np.median(s[:,1]):.0f}, P(miss all) 8 slices {s[:,2].mean():.2f}, 16 slices {s[:,3].mean():.2f}')
print(f'all: P(miss) 8: {res[:,2].mean():.2f} 16: {res[:,3].mean():.2f}')
