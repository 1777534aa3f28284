#!/usr/bin/env python3
"""Builds the benchmark's submission: one uint8 lesion mask per study, written by nibabel
as a participant would (rater 1's mask for studies that have one, a few slices of the
lungs' bottom for the others), zipped with predictions left out.

Usage: make_submission.py ANNOTATIONS_DIR OUT.zip
"""
import os
import sys
import tempfile
import zipfile

import nibabel as nib
import numpy as np


def main():
    ann, out = sys.argv[1], sys.argv[2]
    ids = sorted(line.split(",")[0] for line in open(os.path.join(ann, "labels.csv")).read().splitlines()[1:] if line)
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for sid in ids:
            lungs = nib.load(os.path.join(ann, "lungs", sid + ".nii.gz"))
            folder = os.path.join(ann, "lesions", sid)
            if os.path.isdir(folder):
                mask = np.asanyarray(nib.load(os.path.join(folder, sorted(os.listdir(folder))[0])).dataobj) != 0
            else:
                data = np.asanyarray(lungs.dataobj)
                mask = np.zeros(data.shape, bool)
                mask[..., : max(1, data.shape[2] // 10)] = data[..., : max(1, data.shape[2] // 10)] > 0
            img = nib.Nifti1Image(mask.astype(np.uint8), lungs.affine, lungs.header)
            img.set_data_dtype(np.uint8)
            path = os.path.join(tmp, sid + ".nii.gz")
            nib.save(img, path)
            zf.write(path, sid + ".nii.gz")


if __name__ == "__main__":
    main()
