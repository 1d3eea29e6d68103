"""Start the whole simulated district at once: Aeries and Bakalari over HTTP on loopback,
and the i-Ready export files on disk. Used by `make simulate` and `make demo`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dlt_pipelines.common.at_rest import lock_down_tree, private_dir
from dlt_pipelines.common.settings import env


@dataclass
class StackConfig:
    seed: int = 20240815
    n_schools: int = 7
    students_per_school: int = 300
    start_date: date = date(2024, 8, 15)
    end_date: date = date(2025, 6, 12)
    today: date = date(2025, 6, 13)  # the simulated clock: the whole year has happened

    @classmethod
    def from_env(cls) -> StackConfig:
        """Scale knobs: SIM_SEED, SIM_SCHOOLS, SIM_STUDENTS_PER_SCHOOL."""
        return cls(
            seed=int(env("SIM_SEED", "20240815")),
            n_schools=int(env("SIM_SCHOOLS", "7")),
            students_per_school=int(env("SIM_STUDENTS_PER_SCHOOL", "300")),
        )


@dataclass
class Stack:
    config: StackConfig
    district: object
    aeries: object
    bakalari: object
    iready_dir: Path
    iready_files: list[Path] = field(default_factory=list)
    aeries_export_dir: Path | None = None  # Aeries CSV exports of the same district (docs/aeries-csv.md)

    def source_env(self) -> dict[str, str]:
        """The settings a pipeline reads to reach these simulators."""
        return {
            "AERIES_BASE_URL": self.aeries.base_url,
            "AERIES_CERT": self.aeries.cert,
            "BAKALARI_BASE_URL": self.bakalari.base_url,
            "BAKALARI_USERNAME": self.bakalari.username,
            "BAKALARI_PASSWORD": self.bakalari.password,
            "IREADY_SOURCE_URL": str(self.iready_dir),
            **({"AERIES_EXPORT_URL": str(self.aeries_export_dir)} if self.aeries_export_dir else {}),
        }

    def apply_env(self) -> None:
        os.environ.update(self.source_env())

    def stop(self) -> None:
        self.aeries.stop()
        self.bakalari.stop()


def start_stack(config: StackConfig, iready_dir: Path, aeries_export_dir: Path | None = None) -> Stack:
    from .aeries_api import AeriesSimulator
    from .bakalari_api import BakalariSimulator
    from .czech_school import CzechSchool
    from .district import District, DistrictConfig
    from .iready_exports import write_district_exports

    district = District(DistrictConfig(
        seed=config.seed, n_schools=config.n_schools,
        students_per_school=config.students_per_school,
        start_date=config.start_date, end_date=config.end_date,
    ))
    aeries = AeriesSimulator(district, today=config.today)
    aeries.start()
    bakalari = BakalariSimulator(CzechSchool(seed=config.seed))
    bakalari.start()
    # simulated vendor exports carry student names: a private folder, private files
    private_dir(iready_dir)
    files = write_district_exports(district, iready_dir, seed=config.seed)
    lock_down_tree(iready_dir)
    if aeries_export_dir is not None:
        from .aeries_exports import write_aeries_exports

        # the STU export carries names too: private like the i-Ready files
        private_dir(aeries_export_dir)
        write_aeries_exports(aeries, aeries_export_dir)
        lock_down_tree(aeries_export_dir)
    return Stack(config, district, aeries, bakalari, iready_dir, list(files), aeries_export_dir)
