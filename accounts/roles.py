"""The five roles and what each may do, as plain data."""
from __future__ import annotations

FARMER = "farmer"
COORDINATOR = "coordinator"
TRAINER = "trainer"
PARTNER = "partner"
ADMIN = "admin"

ROLES: tuple[str, ...] = (FARMER, COORDINATOR, TRAINER, PARTNER, ADMIN)

# Chinese labels are the msgids; app/ translates them for English pages.
ROLE_LABELS: dict[str, str] = {
    FARMER: "主播农户",
    COORDINATOR: "村级服务站",
    TRAINER: "培训讲师",
    PARTNER: "帮扶发货方",
    ADMIN: "管理员",
}

# Who manages the catalog, orders and hand-offs (api.md: coordinators and admins).
MANAGERS: tuple[str, ...] = (COORDINATOR, ADMIN)
